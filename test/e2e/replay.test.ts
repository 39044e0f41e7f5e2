/**
 * Replay mode end to end: go-vcr cassettes and our own recordings served to the official openai
 * client with the upstream unreachable; misses, policies, pacing, cassette selection and reloads.
 */
import assert from 'node:assert/strict';
import { copyFile, readdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { dump } from 'js-yaml';
import type OpenAI from 'openai';
import type { Config } from '../../src/config.js';
import { parseJsonPath, type JsonPath } from '../../src/json-path.js';
import { FakeUpstream, SEED_TURN_ONE_REQUEST, makeTestKey } from '../support/fake-upstream.js';
import { fixture } from '../support/paths.js';
import { cassetteWith, startTestProxy, type TestProxy } from '../support/proxy.js';
import { eventually } from '../support/wait.js';

/** An upstream address where nothing listens: any attempt to contact it would fail loudly. */
async function deadUpstream(): Promise<URL> {
  const fake = await FakeUpstream.start();
  await fake.close();
  return new URL(fake.url);
}

async function replayProxy(t: TestContext, overrides: Partial<Config> = {}): Promise<TestProxy> {
  return startTestProxy(t, { mode: 'replay', upstream: await deadUpstream(), ...overrides });
}

function countRequests(proxy: TestProxy): () => number {
  let count = 0;
  proxy.server.on('request', () => count++);
  return () => count;
}

async function streamTurn(client: OpenAI, body: Record<string, unknown>) {
  const stream = await client.chat.completions.create({ ...body, stream: true } as OpenAI.ChatCompletionCreateParamsStreaming);
  let content = '';
  let id = '';
  let name = '';
  let args = '';
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    const delta = chunk.choices[0]?.delta;
    content += delta?.content ?? '';
    for (const call of delta?.tool_calls ?? []) {
      id ||= call.id ?? '';
      name += call.function?.name ?? '';
      args += call.function?.arguments ?? '';
    }
  }
  return { content, id, name, args, chunks };
}

/** Raw bytes of an answer, with the time each chunk arrived (ms after the request was sent). */
function rawRequest(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer; arrivals: number[] }>((resolve, reject) => {
    const started = performance.now();
    const req = http.request(url, { method: init.method ?? 'GET', headers: init.headers }, (res) => {
      const chunks: Buffer[] = [];
      const arrivals: number[] = [];
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        arrivals.push(performance.now() - started);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), arrivals }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

test('seed.yaml (go-vcr v4, OpenAI Go SDK) replays both streamed turns to the Node client with the upstream unreachable', async (t) => {
  const proxy = await replayProxy(t, { cassette: 'seed' });
  await copyFile(fixture('seed.yaml'), path.join(proxy.dir, 'seed.yaml'));
  const client = proxy.client(makeTestKey());

  const one = await streamTurn(client, SEED_TURN_ONE_REQUEST);
  assert.equal(one.name, 'add');
  assert.deepEqual(JSON.parse(one.args), { a: 15, b: 27 });
  const { a, b } = JSON.parse(one.args) as { a: number; b: number };

  const messages = SEED_TURN_ONE_REQUEST.messages as unknown[];
  const two = await streamTurn(client, {
    ...SEED_TURN_ONE_REQUEST,
    messages: [
      ...messages,
      { role: 'assistant', tool_calls: [{ id: one.id, type: 'function', function: { name: one.name, arguments: one.args } }] },
      { role: 'tool', tool_call_id: one.id, content: String(a + b) },
    ],
  });
  assert.equal(two.content, '15 + 27 equals 42.');
});

test('the every-key go-vcr cassette replays: a literal-block SSE body and a JSON body', async (t) => {
  const proxy = await replayProxy(t, { cassette: 'govcr' });
  await copyFile(fixture('govcr-v4-chat-and-model.yaml'), path.join(proxy.dir, 'govcr.yaml'));
  const client = proxy.client('unused');
  const hello = await streamTurn(client, { model: 'test-model', messages: [{ role: 'user', content: 'Say hello' }] });
  assert.equal(hello.content, 'Hello');
  const model = await client.models.retrieve('test-model');
  assert.equal(model.owned_by, 'govcr-check');
});

test('a request that differs by one message gets one fast 4xx naming the cassette and the field with both values', async (t) => {
  const proxy = await replayProxy(t, { cassette: 'seed' });
  await copyFile(fixture('seed.yaml'), path.join(proxy.dir, 'seed.yaml'));
  const requests = countRequests(proxy);
  const client = new (await import('openai')).default({ apiKey: 'k', baseURL: proxy.baseURL }); // default retries on
  const messages = structuredClone(SEED_TURN_ONE_REQUEST.messages) as { content: string }[];
  messages[1]!.content = 'What is 2 + 2?';

  const started = performance.now();
  const err: any = await streamTurn(client, { ...SEED_TURN_ONE_REQUEST, messages }).catch((e: unknown) => e);
  const elapsed = performance.now() - started;
  assert.equal(err.status, 404);
  assert.ok(elapsed < 100, `answered in ${elapsed.toFixed(1)} ms`);
  assert.equal(requests(), 1, 'the SDK did not retry');
  assert.match(err.message, /seed\.yaml/);
  assert.match(err.message, /POST \/v1\/chat\/completions/);
  assert.match(err.message, /interaction 0/);
  assert.ok(err.message.includes('body.messages[1].content: recorded "What is 15 + 27?", got "What is 2 + 2?"'), err.message);
  assert.equal(err.code, 'cassette_miss');
});

test('reordered JSON keys, other whitespace and other SDK headers still match', async (t) => {
  const proxy = await replayProxy(t, { cassette: 'seed' });
  await copyFile(fixture('seed.yaml'), path.join(proxy.dir, 'seed.yaml'));
  const reversed = Object.fromEntries(Object.entries({ ...SEED_TURN_ONE_REQUEST, stream: true }).reverse());
  const res = await rawRequest(`${proxy.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'OpenAI/Python 1.99.0', 'x-stainless-retry-count': '3', authorization: 'Bearer other', 'x-request-id': 'abc' },
    body: JSON.stringify(reversed, null, 4),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'] ?? '', /^text\/event-stream/);
  assert.match(res.body.toString(), /"name":"add"/);
});

test('record → replay round trip gives byte-identical bodies, streamed, JSON and binary', async (t) => {
  const key = makeTestKey();
  const upstream = await FakeUpstream.start({ apiKey: key });
  t.after(() => upstream.close());
  const recorder = await startTestProxy(t, { upstream: new URL(upstream.url) });
  const calls = [
    { path: '/chat/completions', body: JSON.stringify({ ...SEED_TURN_ONE_REQUEST, stream: true }) },
    { path: '/chat/completions', body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] }) },
    { path: '/responses', body: JSON.stringify({ model: 'gpt-4o-mini', input: 'Why cassettes?', stream: true }) },
    { path: '/audio/speech', body: JSON.stringify({ model: 'gpt-4o-mini-tts', voice: 'alloy', input: 'hi' }) },
  ];
  const send = (base: string, call: (typeof calls)[number]) =>
    rawRequest(`${base}${call.path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: call.body });
  const recorded = [];
  for (const call of calls) recorded.push(await send(recorder.baseURL, call));
  await cassetteWith(recorder, calls.length);

  const player = await replayProxy(t, { cassetteDir: recorder.dir });
  for (const [i, call] of calls.entries()) {
    const replayed = await send(player.baseURL, call);
    assert.equal(replayed.status, recorded[i]!.status);
    assert.ok(replayed.body.equals(recorded[i]!.body), `${call.path}: same bytes`);
    assert.equal(replayed.headers['content-type'], recorded[i]!.headers['content-type']);
  }
  // And through the official client.
  const client = player.client(key);
  assert.equal((await streamTurn(client, SEED_TURN_ONE_REQUEST)).name, 'add');
  const chat = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] });
  assert.equal(chat.choices[0]?.message.content, 'Hello! How can I help you today?');
});

test('strict answers each recording once then says all were used; repeat keeps answering with the last', async (t) => {
  const interaction = (id: number, answer: string) => ({
    id,
    request: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: 0, host: '', url: 'https://api.openai.com/v1/models/gpt-4o', method: 'GET' },
    response: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: -1, body: JSON.stringify({ id: 'gpt-4o', object: 'model', created: id, owned_by: answer }), headers: { 'Content-Type': ['application/json'] }, status: '200 OK', code: 200, duration: '1ms' },
  });
  const text = `---\n${dump({ version: 2, interactions: [interaction(0, 'first'), interaction(1, 'second')] })}`;
  for (const policy of ['strict', 'repeat'] as const) {
    const proxy = await replayProxy(t, { replayPolicy: policy, cassette: 'twice' });
    await writeFile(path.join(proxy.dir, 'twice.yaml'), text);
    const client = proxy.client('k');
    assert.equal((await client.models.retrieve('gpt-4o')).owned_by, 'first');
    assert.equal((await client.models.retrieve('gpt-4o')).owned_by, 'second');
    if (policy === 'repeat') {
      assert.equal((await client.models.retrieve('gpt-4o')).owned_by, 'second');
    } else {
      await assert.rejects(client.models.retrieve('gpt-4o'), (err: any) => err.status === 404 && /all 2 recordings of GET \/v1\/models\/gpt-4o/.test(err.message));
    }
  }
});

test('with --replay-latency recorded a stream keeps its recorded gaps; without it, it comes at once', async (t) => {
  const upstream = await FakeUpstream.start({ eventSpacingMs: 50 });
  t.after(() => upstream.close());
  const recorder = await startTestProxy(t, { upstream: new URL(upstream.url) });
  const call = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o-mini', input: 'Why cassettes?', stream: true }) };
  await rawRequest(`${recorder.baseURL}/responses`, call);
  const cassette = await cassetteWith(recorder, 1);
  const offsets: number[] = cassette.interactions[0].cassette_proxy.event_offsets_ms;
  assert.equal(offsets.length, 8);
  const recordedGaps = offsets.slice(1).map((o, i) => o - offsets[i]!);
  assert.ok(recordedGaps.every((g) => g >= 45), `recorded gaps ${recordedGaps}`);

  const paced = await replayProxy(t, { cassetteDir: recorder.dir, replayLatency: 'recorded' });
  const slow = await rawRequest(`${paced.baseURL}/responses`, call);
  assert.equal(slow.arrivals.length, 8, 'one chunk per event');
  // Each event comes no earlier than it did when recorded (timers may fire late on a busy machine,
  // never early), and the whole stream in about the recorded time.
  for (const [i, arrival] of slow.arrivals.entries()) {
    const since = arrival - slow.arrivals[0]!;
    const recorded = offsets[i]! - offsets[0]!;
    assert.ok(since >= recorded - 5, `event ${i}: replayed after ${since.toFixed(1)} ms, recorded after ${recorded.toFixed(1)} ms`);
  }
  const took = slow.arrivals.at(-1)! - slow.arrivals[0]!;
  const recordedTook = offsets.at(-1)! - offsets[0]!;
  assert.ok(took <= recordedTook + 250, `replayed in ${took.toFixed(1)} ms, recorded in ${recordedTook.toFixed(1)} ms`);

  const fast = await replayProxy(t, { cassetteDir: recorder.dir });
  const quick = await rawRequest(`${fast.baseURL}/responses`, call);
  assert.ok(quick.body.equals(slow.body));
  assert.ok(quick.arrivals.at(-1)! < 50, `unpaced replay took ${quick.arrivals.at(-1)!.toFixed(1)} ms`);
});

test('a cassette without offsets gets the recorded first-byte delay only, scaled by --replay-speed', async (t) => {
  const proxy = await replayProxy(t, { cassette: 'govcr', replayLatency: 'recorded', replaySpeed: 0.002 });
  await copyFile(fixture('govcr-v4-chat-and-model.yaml'), path.join(proxy.dir, 'govcr.yaml'));
  // duration 548.792µs at speed 0.002 → about 274 ms before the headers, then the events at once.
  const res = await rawRequest(`${proxy.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"model":"test-model","messages":[{"role":"user","content":"Say hello"}],"stream":true}',
  });
  assert.equal(res.status, 200);
  assert.ok(res.arrivals[0]! >= 260 && res.arrivals[0]! < 600, `first byte after ${res.arrivals[0]!.toFixed(1)} ms`);
  assert.ok(res.arrivals.at(-1)! - res.arrivals[0]! < 50);
});

test('x-cassette selects the cassette in replay; a name that leaves the folder gets a 400 and creates nothing', async (t) => {
  const proxy = await replayProxy(t);
  await copyFile(fixture('seed.yaml'), path.join(proxy.dir, 'seed.yaml'));
  assert.equal((await streamTurn(proxy.client('k', { cassette: 'seed' }), SEED_TURN_ONE_REQUEST)).name, 'add');
  const res = await rawRequest(`${proxy.baseURL}/models`, { headers: { 'x-cassette': '../../tmp/evil' } });
  assert.equal(res.status, 400);
  assert.equal(JSON.parse(res.body.toString()).error.code, 'invalid_cassette_name');
  assert.deepEqual(await readdir(proxy.dir), ['seed.yaml']);
  const missing = await rawRequest(`${proxy.baseURL}/models`, { headers: { 'x-cassette': 'nope' } });
  assert.equal(missing.status, 404);
  assert.match(JSON.parse(missing.body.toString()).error.message, /nope\.yaml does not exist/);
});

test('a broken cassette answers with an error naming the file (and the line) while other cassettes keep serving', async (t) => {
  const proxy = await replayProxy(t);
  await copyFile(fixture('seed.yaml'), path.join(proxy.dir, 'seed.yaml'));
  await writeFile(path.join(proxy.dir, 'old.yaml'), '---\nversion: 1\ninteractions: []\n');
  await writeFile(path.join(proxy.dir, 'broken.yaml'), '---\nversion: 2\ninteractions:\n  - id: 0\n    request: [unclosed\n');
  const old = await rawRequest(`${proxy.baseURL}/models`, { headers: { 'x-cassette': 'old' } });
  assert.equal(old.status, 400);
  const oldError = JSON.parse(old.body.toString()).error;
  assert.equal(oldError.code, 'cassette_invalid');
  assert.match(oldError.message, /old\.yaml has version 1/);
  const broken = JSON.parse((await rawRequest(`${proxy.baseURL}/models`, { headers: { 'x-cassette': 'broken' } })).body.toString()).error;
  assert.match(broken.message, /broken\.yaml is not valid YAML at line \d+, column \d+: /);
  assert.equal((await streamTurn(proxy.client('k', { cassette: 'seed' }), SEED_TURN_ONE_REQUEST)).name, 'add');
});

test('a cassette changed on disk is picked up without a restart', async (t) => {
  const proxy = await replayProxy(t, { cassette: 'live' });
  const file = path.join(proxy.dir, 'live.yaml');
  const cassette = (owner: string) =>
    `---\n${dump({ version: 2, interactions: [{ id: 0, request: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: 0, host: '', url: 'https://api.openai.com/v1/models/m', method: 'GET' }, response: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: -1, body: `{"id":"m","object":"model","created":0,"owned_by":"${owner}"}`, headers: { 'Content-Type': ['application/json'] }, status: '200 OK', code: 200, duration: '0s' } }] })}`;
  await writeFile(file, cassette('before'));
  const client = proxy.client('k');
  assert.equal((await client.models.retrieve('m')).owned_by, 'before');
  await writeFile(file, cassette('after-change'));
  await eventually(async () => assert.equal((await client.models.retrieve('m')).owned_by, 'after-change'), 3000);
});

test('--match-ignore leaves a body field out of matching; --match-header makes a header take part', async (t) => {
  const path_ = (text: string) => parseJsonPath(text) as JsonPath;
  const body = { ...SEED_TURN_ONE_REQUEST, stream: true };
  const send = (proxy: TestProxy, extra: Record<string, unknown>, headers: Record<string, string> = {}) =>
    rawRequest(`${proxy.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-cassette': 'seed', ...headers }, body: JSON.stringify({ ...body, ...extra }) });

  // `user` is on the built-in ignore list (e2e/normalize): switched off here to show --match-ignore alone.
  const strictBody = await replayProxy(t, { matchBuiltinIgnore: false });
  await copyFile(fixture('seed.yaml'), path.join(strictBody.dir, 'seed.yaml'));
  assert.equal((await send(strictBody, { user: 'run-42' })).status, 404);

  const ignoring = await replayProxy(t, { matchBuiltinIgnore: false, matchIgnore: [path_('user'), path_('metadata.session')] });
  await copyFile(fixture('seed.yaml'), path.join(ignoring.dir, 'seed.yaml'));
  assert.equal((await send(ignoring, { user: 'run-42' })).status, 200);
  assert.equal((await send(ignoring, { user: 'run-43', metadata: { session: 'x' } })).status, 404, 'metadata itself still counts');

  const headerBound = await replayProxy(t, { matchHeaders: ['User-Agent'] });
  await copyFile(fixture('seed.yaml'), path.join(headerBound.dir, 'seed.yaml'));
  assert.equal((await send(headerBound, {}, { 'user-agent': 'OpenAI/Go 2.3.0' })).status, 200);
  const miss = await send(headerBound, {}, { 'user-agent': 'curl/8' });
  assert.equal(miss.status, 404);
  assert.match(JSON.parse(miss.body.toString()).error.message, /header\.user-agent\[0\]: recorded "OpenAI\/Go 2\.3\.0", got "curl\/8"/);
});

test('a request with a credential in its query matches its redacted recording, and no miss message shows a credential', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const recorder = await startTestProxy(t, { upstream: new URL(upstream.url) });
  const secret = makeTestKey().slice(3, 30);
  const recorded = await rawRequest(`${recorder.baseURL}/models?key=${secret}&limit=5`);
  assert.equal(recorded.status, 200);
  await cassetteWith(recorder, 1);
  const player = await replayProxy(t, { cassetteDir: recorder.dir });
  const hit = await rawRequest(`${player.baseURL}/models?key=${secret}&limit=5`);
  assert.equal(hit.status, 200, hit.body.toString());
  assert.ok(hit.body.equals(recorded.body));
  const miss = await rawRequest(`${player.baseURL}/models?key=${secret}&limit=6`);
  assert.equal(miss.status, 404);
  assert.ok(!miss.body.toString().includes(secret), 'the miss message does not show the credential');
  assert.match(JSON.parse(miss.body.toString()).error.message, /query\.limit\[0\]: recorded "5", got "6"/);
});
