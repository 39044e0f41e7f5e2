/**
 * Where recordings go on disk: one identity per file whatever name reached it, names that stay
 * inside the cassette folder and inside what a file system stores, one writer per cassette (its
 * lease), and saves that fail in plain sight. Each hostile case runs beside a bystander stream,
 * which must finish whole, and is followed by a request that must be served.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { Writable } from 'node:stream';
import type OpenAI from 'openai';
import { createLogger } from '../../src/log.js';
import { FakeUpstream, SEED_TOOL_CALL_STREAM, SEED_TURN_ONE_REQUEST, makeTestKey } from '../support/fake-upstream.js';
import { fixture, tempDir } from '../support/paths.js';
import { cassetteWith, startTestProxy, type TestProxy } from '../support/proxy.js';
import { eventually } from '../support/wait.js';

async function setup(t: TestContext, options: ConstructorParameters<typeof FakeUpstream>[0] = {}, mode: 'record' | 'replay' = 'record') {
  const key = makeTestKey();
  const upstream = await FakeUpstream.start({ apiKey: key, ...options });
  t.after(() => upstream.close());
  const lines: any[] = [];
  const log = createLogger('info', new Writable({ write: (chunk, _, done) => done(void lines.push(...String(chunk).trim().split('\n').map((l) => JSON.parse(l)))) }));
  const proxy = await startTestProxy(t, { upstream: new URL(upstream.url), mode }, log);
  return { key, upstream, proxy, lines };
}

async function streamToolCall(client: OpenAI): Promise<string> {
  const stream = await client.chat.completions.create({ ...SEED_TURN_ONE_REQUEST, stream: true } as unknown as OpenAI.ChatCompletionCreateParamsStreaming);
  let name = '';
  for await (const chunk of stream) for (const call of chunk.choices[0]?.delta?.tool_calls ?? []) name += call.function?.name ?? '';
  return name;
}

/** A stream of five events 100 ms apart, through the proxy, that must finish whole whatever else happens. */
function bystander(proxy: TestProxy, key: string): Promise<string> {
  return fetch(`${proxy.baseURL}/trickle`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'x-cassette': 'bystander' } }).then((res) => res.text());
}

const TRICKLE = Array.from({ length: 5 }, (_, i) => `data: {"trickle":${i}}\n\n`).join('');

/** A request with `x-cassette` given as raw bytes, on a socket of its own (Node's client would re-encode them). */
async function withCassetteBytes(url: string, cassette: Buffer, key: string): Promise<{ status: number; body: string }> {
  const { hostname, port, pathname } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  await once(socket, 'connect');
  const body = '{"model":"text-embedding-3-small","input":"x"}';
  const head = `POST ${pathname} HTTP/1.1\r\nhost: ${hostname}\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\nx-cassette: `;
  // Not ended: the server closes it after answering (connection: close).
  socket.write(Buffer.concat([Buffer.from(head), cassette, Buffer.from(`\r\n\r\n${body}`)]));
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString();
  const at = text.indexOf('\r\n\r\n');
  return { status: Number(text.split(' ')[1]), body: text.slice(at + 4) };
}

async function metric(proxy: TestProxy, name: string): Promise<number> {
  const text = await (await fetch(`${proxy.url}/_proxy/metrics`)).text();
  return Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
}

async function summaryRow(proxy: TestProxy, file: string): Promise<any> {
  const { cassettes } = (await (await fetch(`${proxy.url}/_proxy/cassettes`)).json()) as { cassettes: any[] };
  return cassettes.find((row) => row.cassette.endsWith(file));
}

test('one file reached by two names (a symlinked folder and the real one) is one cassette: concurrent recordings through both all land', async (t) => {
  const { proxy, key } = await setup(t, { eventSpacingMs: 1 });
  await mkdir(path.join(proxy.dir, 'real'));
  await symlink(path.join(proxy.dir, 'real'), path.join(proxy.dir, 'alias'));
  const names = ['real/chat', 'alias/chat'];
  for (let round = 0; round < 3; round++) {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => streamToolCall(proxy.client(key, { cassette: names[i % 2] }))));
    assert.ok(results.every((name) => name === 'add'));
  }
  const cassette = await cassetteWith(proxy, 60, path.join(proxy.dir, 'real', 'chat.yaml'));
  assert.deepEqual(
    cassette.interactions.map((i: any) => i.id),
    Array.from({ length: 60 }, (_, i) => i),
  );
  for (const i of cassette.interactions) assert.equal(i.response.body, SEED_TOOL_CALL_STREAM);
  const { cassettes } = (await (await fetch(`${proxy.url}/_proxy/cassettes`)).json()) as { cassettes: any[] };
  assert.deepEqual(
    cassettes.map((row) => [path.basename(row.cassette), row.interactions_on_disk]),
    [['chat.yaml', 60]],
    'one row: one file',
  );
});

/** Links in the cassette folder that lead out of it, or nowhere; `outside` holds a valid cassette. */
async function plantLinks(dir: string): Promise<{ outside: string; before: () => Promise<string[]> }> {
  const outside = await tempDir();
  await copyFile(fixture('seed.yaml'), path.join(outside.dir, 'seed.yaml'));
  await symlink(outside.dir, path.join(dir, 'out'));
  await symlink(path.join(outside.dir, 'seed.yaml'), path.join(dir, 'file-out.yaml'));
  await symlink(path.join(outside.dir, 'gone.yaml'), path.join(dir, 'dangling.yaml'));
  await symlink('loop-b', path.join(dir, 'loop-a'));
  await symlink('loop-a', path.join(dir, 'loop-b'));
  return { outside: outside.dir, before: async () => [...(await readdir(outside.dir)), (await readFile(path.join(outside.dir, 'seed.yaml'), 'utf8')).length.toString()] };
}

const LEADS_OUT = ['out/seed', 'out/new', 'out/deeper/new', 'file-out', 'dangling', 'loop-a/x'];

test('a name that a symbolic link takes outside the folder is refused before anything is forwarded: record, replay and PUT /_proxy/mode', async (t) => {
  const { proxy, upstream, key } = await setup(t);
  const { outside, before } = await plantLinks(proxy.dir);
  t.after(() => rm(outside, { recursive: true, force: true }));
  const untouched = await before();
  const running = bystander(proxy, key);
  for (const name of LEADS_OUT) {
    const res = await fetch(`${proxy.baseURL}/embeddings`, {
      method: 'POST',
      headers: { 'x-cassette': name, authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: '{"model":"m","input":"x"}',
    });
    assert.equal(res.status, 400, name);
    assert.equal(((await res.json()) as any).error.code, 'invalid_cassette_name', name);
  }
  const put = await fetch(`${proxy.url}/_proxy/mode`, { method: 'PUT', body: JSON.stringify({ mode: 'replay', cassette: 'out/seed' }) });
  assert.equal(put.status, 400);
  assert.equal(((await put.json()) as any).error.code, 'invalid_cassette_name');
  assert.deepEqual(await (await fetch(`${proxy.url}/_proxy/mode`)).json(), { mode: 'record', cassette: 'default' }, 'nothing changed');

  assert.equal(await running, TRICKLE, 'the bystander stream finished whole');
  assert.equal(upstream.requests.filter((r) => r.url !== '/v1/trickle').length, 0, 'nothing refused reached the upstream');
  await proxy.client(key).embeddings.create({ model: 'text-embedding-3-small', input: 'next' });
  await cassetteWith(proxy, 1);
  assert.deepEqual(await before(), untouched, 'nothing outside the folder was written');

  // Replay: the cassette outside would match, and must not be read.
  const replay = await startTestProxy(t, { mode: 'replay', upstream: new URL(upstream.url) });
  const links = await plantLinks(replay.dir);
  t.after(() => rm(links.outside, { recursive: true, force: true }));
  await copyFile(fixture('seed.yaml'), path.join(replay.dir, 'seed.yaml'));
  for (const name of LEADS_OUT) {
    const res = await fetch(`${replay.baseURL}/chat/completions`, { method: 'POST', headers: { 'x-cassette': name, 'content-type': 'application/json' }, body: JSON.stringify({ ...SEED_TURN_ONE_REQUEST, stream: true }) });
    assert.equal(res.status, 400, name);
    assert.equal(((await res.json()) as any).error.code, 'invalid_cassette_name', name);
  }
  assert.equal(await streamToolCall(replay.client('k', { cassette: 'seed' })), 'add', 'the next request is served');
});

test('a name too long for a file system, or not UTF-8, is refused before anything is forwarded; the longest allowed name and a UTF-8 name record and save', async (t) => {
  const { proxy, upstream, key } = await setup(t);
  const running = bystander(proxy, key);
  const refused = [
    Buffer.from('é'.repeat(110)), // 225-byte file name: no room for the lease and temp files
    Buffer.from(`${'語'.repeat(86)}/x`), // a 258-byte folder name
    Buffer.from(`x/${'\u{1F642}'.repeat(60)}`),
    Buffer.from([0x63, 0x61, 0x66, 0xe9]), // latin1 "café": not UTF-8
    Buffer.from([0x61, 0xc0, 0xaf]), // an overlong "/"
    Buffer.from([0x61, 0xed, 0xa0, 0x80]), // a surrogate
  ];
  for (const name of refused) {
    const { status, body } = await withCassetteBytes(`${proxy.baseURL}/embeddings`, name, key);
    assert.equal(status, 400, name.toString('hex'));
    assert.equal(JSON.parse(body).error.code, 'invalid_cassette_name');
  }
  assert.equal(await running, TRICKLE, 'the bystander stream finished whole');
  assert.equal(upstream.requests.filter((r) => r.url !== '/v1/trickle').length, 0, 'nothing refused reached the upstream');

  for (const name of ['é'.repeat(109), 'suite/café']) {
    const { status } = await withCassetteBytes(`${proxy.baseURL}/embeddings`, Buffer.from(name), key);
    assert.equal(status, 200, name);
    await cassetteWith(proxy, 1, path.join(proxy.dir, `${name}.yaml`));
  }
  const row = await summaryRow(proxy, `${'é'.repeat(109)}.yaml`);
  assert.deepEqual([row.interactions_on_disk, row.unsaved, row.save_failures], [1, 0, 0]);
});

/** A lease as another replica (another container: another pid namespace and host) writes it. */
function foreignLease(): string {
  return `${JSON.stringify({ owner: 'replica-b', host: 'replica-b-host', pid: 1, since: '2025-01-01T00:00:00.000Z', namespace: 'another-boot pid:[4026531836]', start: '42' })}\n`;
}

test('a cassette another live process records into is refused with 409 cassette_locked before forwarding, logged and counted; its lease is taken over once it expires', async (t) => {
  const { proxy, upstream, key, lines } = await setup(t);
  const lease = path.join(proxy.dir, '.default.yaml.lock');
  await writeFile(lease, foreignLease());
  const running = bystander(proxy, key);
  const embed = () => fetch(`${proxy.baseURL}/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{"model":"m","input":"x"}' });

  for (let i = 0; i < 3; i++) {
    const res = await embed();
    assert.equal(res.status, 409);
    const { error } = (await res.json()) as any;
    assert.equal(error.code, 'cassette_locked');
    assert.match(error.message, /default\.yaml is being recorded by another process \(process 1 on replica-b-host/);
    assert.match(error.message, /give each replica its own cassette name/);
  }
  assert.equal(await running, TRICKLE, 'the bystander stream finished whole');
  assert.equal(upstream.requests.filter((r) => r.url !== '/v1/trickle').length, 0, 'a refused request never reaches the upstream');
  assert.equal(await metric(proxy, 'cassette_proxy_cassette_lease_conflicts_total{event="refused"}'), 3);
  await eventually(() => assert.ok(lines.some((l) => l.level === 50 && /being recorded by another process/.test(l.msg))));
  assert.ok(!existsSync(path.join(proxy.dir, 'default.yaml')));

  // Its owner stops renewing it (killed in its container): after 5 s it is taken over.
  const old = new Date(Date.now() - 6000);
  await utimes(lease, old, old);
  assert.equal((await embed()).status, 200);
  await cassetteWith(proxy, 1);
  const taken = JSON.parse(await readFile(lease, 'utf8'));
  assert.notEqual(taken.owner, 'replica-b');
  assert.equal(taken.pid, process.pid);

  // The lease is renewed while held, and never blocks its own process.
  const renewed = Date.now();
  await eventually(async () => assert.ok((await stat(lease)).mtimeMs > renewed), 3000);
  for (let i = 0; i < 3; i++) assert.equal((await embed()).status, 200);
  await cassetteWith(proxy, 4);

  // Another process takes it over (this one stalled): this one notices, counts it, and refuses.
  await writeFile(lease, foreignLease());
  await eventually(async () => assert.equal(await metric(proxy, 'cassette_proxy_cassette_lease_conflicts_total{event="lost"}'), 1), 3000);
  assert.equal((await embed()).status, 409);
  assert.ok(lines.some((l) => l.level === 50 && /lost the lease/.test(l.msg)));
  await cassetteWith(proxy, 4);
});

test('a save that fails is visible: logged at error, counted, and shown per cassette until the folder is back and the interaction saved', async (t) => {
  const { proxy, key, lines } = await setup(t);
  const client = proxy.client(key, { cassette: 'suite/a' });
  await client.embeddings.create({ model: 'text-embedding-3-small', input: 'one' });
  await cassetteWith(proxy, 1, path.join(proxy.dir, 'suite', 'a.yaml'));
  // The folder vanishes and a file takes its place: every save fails, even for root.
  await rm(path.join(proxy.dir, 'suite'), { recursive: true });
  await writeFile(path.join(proxy.dir, 'suite'), 'not a folder');
  const running = bystander(proxy, key);
  await client.embeddings.create({ model: 'text-embedding-3-small', input: 'two' });
  await eventually(async () => {
    const row = await summaryRow(proxy, 'suite/a.yaml');
    assert.ok(row.save_failures >= 1);
    assert.equal(row.unsaved, 1);
    assert.match(row.last_save_error, /ENOTDIR/);
  });
  assert.ok((await metric(proxy, 'cassette_proxy_cassette_save_failures_total')) >= 1);
  assert.ok(lines.some((l) => l.level === 50 && /cassette save failed/.test(l.msg)));
  assert.equal(await running, TRICKLE, 'the bystander stream finished whole');

  // The folder is back: the next save writes what waited.
  await rm(path.join(proxy.dir, 'suite'));
  await mkdir(path.join(proxy.dir, 'suite'));
  const cassette = await cassetteWith(proxy, 1, path.join(proxy.dir, 'suite', 'a.yaml'));
  assert.match(cassette.interactions[0].request.body, /two/);
  assert.equal((await summaryRow(proxy, 'suite/a.yaml')).unsaved, 0);
});
