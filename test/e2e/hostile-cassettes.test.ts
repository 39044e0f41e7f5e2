/** Hostile cassettes: each gives a clear error naming the file, and the proxy keeps serving the others. */
import assert from 'node:assert/strict';
import { copyFile, open, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { dump } from 'js-yaml';
import { createLogger } from '../../src/log.js';
import { FakeUpstream, SEED_TURN_ONE_REQUEST } from '../support/fake-upstream.js';
import { fixture } from '../support/paths.js';
import { startTestProxy, type TestProxy } from '../support/proxy.js';

async function replayProxy(t: import('node:test').TestContext): Promise<TestProxy> {
  const dead = await FakeUpstream.start();
  await dead.close();
  const proxy = await startTestProxy(t, { mode: 'replay', upstream: new URL(dead.url) });
  await copyFile(fixture('seed.yaml'), path.join(proxy.dir, 'seed.yaml'));
  return proxy;
}

async function errorFor(proxy: TestProxy, cassette: string): Promise<{ status: number; code: string; message: string }> {
  const res = await fetch(`${proxy.baseURL}/models/m`, { headers: { 'x-cassette': cassette } });
  const { error } = (await res.json()) as { error: { code: string; message: string } };
  return { status: res.status, ...error };
}

async function seedStillServes(proxy: TestProxy): Promise<void> {
  const res = await fetch(`${proxy.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-cassette': 'seed' },
    body: JSON.stringify({ ...SEED_TURN_ONE_REQUEST, stream: true }),
  });
  assert.equal(res.status, 200);
  assert.match(await res.text(), /"name":"add"/);
}

const interaction = (id: number) => ({
  id,
  request: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: 0, host: '', url: `https://api.openai.com/v1/models/m${id}`, method: 'GET' },
  response: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: -1, body: `{"id":"m${id}","object":"model","created":${id},"owned_by":"bulk"}`, headers: { 'Content-Type': ['application/json'] }, status: '200 OK', code: 200, duration: '0s' },
});

test('a YAML alias bomb is refused at once with an error naming the file', async (t) => {
  const proxy = await replayProxy(t);
  const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 9; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
  await writeFile(path.join(proxy.dir, 'bomb.yaml'), `---\nversion: 2\n${levels.join('\n')}\ninteractions: []\n`);
  const started = performance.now();
  const error = await errorFor(proxy, 'bomb');
  assert.ok(performance.now() - started < 1000);
  assert.equal(error.status, 400);
  assert.equal(error.code, 'cassette_invalid');
  assert.match(error.message, /bomb\.yaml/);
  await seedStillServes(proxy);
});

test('a cassette over the size limit is refused without being read', async (t) => {
  const proxy = await replayProxy(t);
  const handle = await open(path.join(proxy.dir, 'huge.yaml'), 'w');
  await handle.truncate(300 * 1024 * 1024); // sparse: no disk is used
  await handle.close();
  const error = await errorFor(proxy, 'huge');
  assert.equal(error.code, 'cassette_invalid');
  assert.match(error.message, /huge\.yaml is 300 MiB; the largest cassette loaded is 256 MiB/);
  await seedStillServes(proxy);
});

test('a large cassette (5,000 interactions) loads once and answers from its index', async (t) => {
  const proxy = await replayProxy(t);
  await writeFile(path.join(proxy.dir, 'bulk.yaml'), `---\n${dump({ version: 2, interactions: Array.from({ length: 5000 }, (_, i) => interaction(i)) })}`);
  for (const id of [0, 2500, 4999]) {
    const res = await fetch(`${proxy.baseURL}/models/m${id}`, { headers: { 'x-cassette': 'bulk' } });
    assert.equal(((await res.json()) as { created: number }).created, id);
  }
});

test('a file that is not UTF-8, and a hand-edited cassette with missing or mistyped fields, name the file and the field', async (t) => {
  const proxy = await replayProxy(t);
  await writeFile(path.join(proxy.dir, 'latin1.yaml'), Buffer.concat([Buffer.from('---\nversion: 2\ninteractions: []\n# caf'), Buffer.from([0xe9]), Buffer.from('\n')]));
  const latin1 = await errorFor(proxy, 'latin1');
  assert.equal(latin1.code, 'cassette_invalid');
  assert.match(latin1.message, /latin1\.yaml is not valid UTF-8/);

  const noUrl = interaction(0) as any;
  delete noUrl.request.url;
  await writeFile(path.join(proxy.dir, 'edited.yaml'), `---\n${dump({ version: 2, interactions: [noUrl] })}`);
  assert.match((await errorFor(proxy, 'edited')).message, /edited\.yaml: interactions\[0\]\.request\.url is missing/);

  const quoted = interaction(0) as any;
  quoted.response.code = '200';
  await writeFile(path.join(proxy.dir, 'quoted.yaml'), `---\n${dump({ version: 2, interactions: [quoted] })}`);
  assert.match((await errorFor(proxy, 'quoted')).message, /quoted\.yaml: interactions\[0\]\.response\.code must be an unquoted integer/);

  const sparse = { id: 0, request: { url: 'https://api.openai.com/v1/models/m', method: 'GET' }, response: { code: 200, body: '{"id":"m","object":"model","created":1,"owned_by":"x"}' } };
  await writeFile(path.join(proxy.dir, 'minimal.yaml'), `---\n${dump({ version: 2, interactions: [sparse] })}`);
  const res = await fetch(`${proxy.baseURL}/models/m`, { headers: { 'x-cassette': 'minimal' } });
  assert.equal(res.status, 200, 'missing optional fields read as empty, as go-vcr reads them');
  await seedStillServes(proxy);
});

test('a hand-edited header that HTTP cannot carry is left out of the answer; the rest is served', async (t) => {
  const proxy = await replayProxy(t);
  const edited = interaction(7) as any;
  edited.response.headers = { 'Content-Type': ['application/json'], 'Bad Name': ['x'], 'X-Control': ['a\u0001b'], 'X-Fine': ['ok'] };
  await writeFile(path.join(proxy.dir, 'headers.yaml'), `---\n${dump({ version: 2, interactions: [edited] })}`);
  const res = await fetch(`${proxy.baseURL}/models/m7`, { headers: { 'x-cassette': 'headers' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-fine'), 'ok');
  assert.equal(res.headers.get('x-control'), null);
  assert.ok(![...res.headers.keys()].some((name) => name.includes(' ')));
  assert.equal(((await res.json()) as { id: string }).id, 'm7');
  await seedStillServes(proxy);
});

test('hand-edited trailers HTTP cannot carry are left out of the answer, the rest sent after the body; a mistyped trailer names the field', async (t) => {
  const proxy = await replayProxy(t);
  const edited = interaction(8) as any;
  edited.response.trailer = { 'Bad Name': ['x'], 'X-Control': ['a\r\nX-Injected: yes'], 'Content-Length': ['5'], Trailer: ['X-Fine'], 'X-Fine': ['ok', 'twice'] };
  await writeFile(path.join(proxy.dir, 'trailers.yaml'), `---\n${dump({ version: 2, interactions: [edited] })}`);
  const answer = await new Promise<{ body: string; trailer: string | undefined; rawTrailers: string[] }>((resolve, reject) => {
    http
      .get(`${proxy.baseURL}/models/m8`, { headers: { 'x-cassette': 'trailers' } }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk));
        res.on('end', () => resolve({ body, trailer: res.headers.trailer, rawTrailers: res.rawTrailers }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
  assert.equal(JSON.parse(answer.body).id, 'm8');
  assert.equal(answer.trailer, 'X-Control, X-Fine', 'framing fields and names that are not tokens are never announced');
  assert.deepEqual(answer.rawTrailers, ['X-Fine', 'ok', 'X-Fine', 'twice']);

  const mistyped = interaction(9) as any;
  mistyped.response.trailer = { 'X-Fine': 'not a list' };
  await writeFile(path.join(proxy.dir, 'mistyped.yaml'), `---\n${dump({ version: 2, interactions: [mistyped] })}`);
  const error = await errorFor(proxy, 'mistyped');
  assert.equal(error.code, 'cassette_invalid');
  assert.match(error.message, /mistyped\.yaml: interactions\[0\]\.response\.trailer\.X-Fine must be a list of strings/);
  await seedStillServes(proxy);
});

test('a status text HTTP cannot carry, or a 1xx code, is refused at load naming the file and field, while a paced stream from another cassette finishes', async (t) => {
  const dead = await FakeUpstream.start();
  await dead.close();
  const proxy = await startTestProxy(t, { mode: 'replay', upstream: new URL(dead.url), replayLatency: 'recorded' });
  const paced = interaction(0) as any;
  paced.request.url = 'https://api.openai.com/v1/models/paced';
  paced.response.headers = { 'Content-Type': ['text/event-stream'] };
  paced.response.body = 'data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n';
  paced.cassette_proxy = { event_offsets_ms: [0, 150, 300, 450] };
  await writeFile(path.join(proxy.dir, 'paced.yaml'), `---\n${dump({ version: 2, interactions: [paced, interaction(1)] })}`);
  const stream = await fetch(`${proxy.baseURL}/models/paced`, { headers: { 'x-cassette': 'paced' } });
  const reader = stream.body!.getReader();
  let received = Buffer.from((await reader.read()).value!).toString();

  const statuses = ['200 OK\r\nX-Injected: yes', '200 O\nK', '200 O\u0001K', '200 O\u007fK', '200 \u2713'];
  for (const [i, status] of statuses.entries()) {
    const bad = interaction(1) as any;
    bad.response.status = status;
    await writeFile(path.join(proxy.dir, `status${i}.yaml`), `---\n${dump({ version: 2, interactions: [interaction(0), bad] })}`);
    const error = await errorFor(proxy, `status${i}`);
    assert.equal(error.status, 400, JSON.stringify(status));
    assert.equal(error.code, 'cassette_invalid');
    assert.match(error.message, new RegExp(`status${i}\\.yaml: interactions\\[1\\]\\.response\\.status holds a character HTTP cannot carry`));
  }
  for (const code of [100, 101, 103, 199]) {
    const bad = interaction(1) as any;
    bad.response.code = code;
    bad.response.status = `${code} Informational`;
    await writeFile(path.join(proxy.dir, `code${code}.yaml`), `---\n${dump({ version: 2, interactions: [bad] })}`);
    const res = await fetch(`${proxy.baseURL}/models/m1`, { headers: { 'x-cassette': `code${code}` }, signal: AbortSignal.timeout(5000) });
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(res.status, 400, `code ${code}`);
    assert.equal(error.code, 'cassette_invalid');
    assert.match(error.message, new RegExp(`code${code}\\.yaml: interactions\\[0\\]\\.response\\.code must be a final HTTP status`));
  }

  for (let next = await reader.read(); !next.done; next = await reader.read()) received += Buffer.from(next.value).toString();
  assert.equal(received, paced.response.body, 'the paced stream finished whole');
  const after = await fetch(`${proxy.baseURL}/models/m1`, { headers: { 'x-cassette': 'paced' } });
  assert.equal(((await after.json()) as { id: string }).id, 'm1', 'the next request is served');
});

test('a cassette that is not valid gets an error naming the file, line and reason, never its content, in the answer and in the log', async (t) => {
  const dead = await FakeUpstream.start();
  await dead.close();
  const lines: string[] = [];
  const log = createLogger('info', new Writable({ write: (chunk, _, done) => done(void lines.push(String(chunk))) }));
  const proxy = await startTestProxy(t, { mode: 'replay', upstream: new URL(dead.url) }, log);
  await copyFile(fixture('seed.yaml'), path.join(proxy.dir, 'seed.yaml'));
  // Made at run time, so no tracked file holds something shaped like a key.
  const secret = ['sk', 'proj', 'FakeSecretThatMustStayInTheFile0123456789'].join('-');
  const leaky = {
    syntax: `---\nversion: 2\ninteractions:\n  - request: {url: "https://x/?key=${secret}", method: GET\n    response: {code: 200}\n`,
    tag: `---\nversion: 2\ninteractions:\n  - request: !${secret}!x {}\n`,
    field: `---\nversion: 2\ninteractions:\n  - request: {url: "https://x/", method: GET}\n    response: {code: "${secret}"}\n`,
    version: `---\nversion: "${secret}"\ninteractions: []\n`,
  };
  for (const [name, text] of Object.entries(leaky)) {
    await writeFile(path.join(proxy.dir, `${name}.yaml`), text);
    const res = await fetch(`${proxy.baseURL}/models/m`, { headers: { 'x-cassette': name } });
    const body = await res.text();
    assert.equal(res.status, 400, name);
    assert.equal(JSON.parse(body).error.code, 'cassette_invalid');
    assert.match(JSON.parse(body).error.message, new RegExp(`${name}\\.yaml`));
    assert.ok(!body.includes('FakeSecret'), `${name}: ${body}`);
  }
  const syntax = (await (await fetch(`${proxy.baseURL}/models/m`, { headers: { 'x-cassette': 'syntax' } })).json()) as any;
  assert.match(syntax.error.message, /syntax\.yaml is not valid YAML at line 5, column \d+: \w+/);
  await seedStillServes(proxy);
  assert.ok(lines.some((line) => line.includes('cassette cannot be used')), 'the failures were logged');
  assert.ok(!lines.some((line) => line.includes('FakeSecret')), 'the log never shows the content');
});

test('a cassette under a "folder" that is a file is not found (404), not a broken or unreadable cassette', async (t) => {
  const proxy = await replayProxy(t);
  await writeFile(path.join(proxy.dir, 'plain'), 'a file, not a folder');
  const error = await errorFor(proxy, 'plain/case');
  assert.equal(error.status, 404);
  assert.equal(error.code, 'cassette_not_found');
  await seedStillServes(proxy);
});
