/**
 * WebSocket sessions (Realtime API, Responses API WebSocket mode): relayed and recorded, then
 * replayed by a new proxy with no upstream contact, against a fake that follows the documented events.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import { ResponsesWS } from 'openai/resources/responses/ws';
import WebSocket, { WebSocketServer } from 'ws';
import type { Config } from '../../src/config.js';
import { EPHEMERAL_KEY, FakeRealtime } from '../support/fake-realtime.js';
import { FakeUpstream, makeTestKey } from '../support/fake-upstream.js';
import { capturedLog } from '../support/log.js';
import { cassetteWith, startTestProxy, type TestProxy } from '../support/proxy.js';
import { eventually } from '../support/wait.js';

/** Keys made at run time: no tracked file holds a key-shaped string. */
const KEY = makeTestKey();
const OTHER_KEY = makeTestKey();
const MODEL = 'gpt-realtime';

async function fake(t: TestContext, options: { deltaGapMs?: number } = {}): Promise<FakeRealtime> {
  const upstream = await FakeRealtime.start(options);
  t.after(() => upstream.close());
  return upstream;
}

/** A recording proxy in front of `upstream`, and a replaying one over the same folder whose upstream is a port nobody listens on. */
async function recordThenReplay(t: TestContext, upstream: FakeRealtime, overrides: Partial<Config> = {}): Promise<{ recorder: TestProxy; replayer: (sessions?: number) => Promise<TestProxy> }> {
  const recorder = await startTestProxy(t, { upstream: new URL(upstream.url), ...overrides });
  return {
    recorder,
    // A session is saved once both sides closed, a moment after the client saw its close.
    replayer: async (sessions = 1) => {
      await cassetteWith(recorder, sessions);
      return startTestProxy(t, { upstream: new URL('http://127.0.0.1:9'), mode: 'replay', cassetteDir: recorder.dir, ...overrides });
    },
  };
}

/** The official Realtime client pointed at the proxy: it always asks for wss://, so the connection is made in plain TCP. */
function realtime(proxy: TestProxy, headers: Record<string, string> = {}, apiKey = KEY): OpenAIRealtimeWS {
  const { port } = new URL(proxy.url);
  const client = new OpenAI({ apiKey, baseURL: proxy.baseURL });
  return new OpenAIRealtimeWS({ model: MODEL, options: { headers, createConnection: () => net.connect(Number(port), '127.0.0.1') } }, client);
}

interface Run {
  events: any[];
  errors: any[];
  closed: Promise<number>;
}

function watch(rt: OpenAIRealtimeWS): Run {
  const events: any[] = [];
  const errors: any[] = [];
  rt.on('event', (e) => events.push(e));
  rt.on('error', (e) => errors.push(e));
  const closed = new Promise<number>((resolve) => rt.socket.once('close', (code) => resolve(code)));
  return { events, errors, closed };
}

/** Until one of `kinds` came (a session that may end in an error event). */
async function seenAny(run: Run, kinds: string[]): Promise<void> {
  await eventually(() => assert.ok(run.events.some((e) => kinds.includes(e.type)), `waiting for ${kinds.join(' or ')}`));
}

async function seen(run: Run, type: string, count = 1): Promise<void> {
  await eventually(() => assert.ok(run.events.filter((e) => e.type === type).length >= count, `waiting for ${type}; got ${run.events.map((e) => e.type).join(', ')}`));
}

/** A text session: session.update, a user message, response.create, text deltas, response.done; then a normal close. */
async function textSession(proxy: TestProxy, text = 'Say hello', headers: Record<string, string> = {}): Promise<Run> {
  const rt = realtime(proxy, headers);
  const run = watch(rt);
  await seen(run, 'session.created');
  rt.send({ type: 'session.update', event_id: `evt_${Math.random()}`, session: { type: 'realtime', instructions: `Be brief. Never repeat ${KEY}.` } });
  await seen(run, 'session.updated');
  rt.send({ type: 'conversation.item.create', event_id: `evt_${Math.random()}`, item: { id: `item_client_${Math.random().toString(36).slice(2)}`, type: 'message', role: 'user', content: [{ type: 'input_text', text }] } });
  rt.send({ type: 'response.create', event_id: `evt_${Math.random()}` });
  await seenAny(run, ['response.done', 'error']);
  rt.close({ code: 1000, reason: 'done' });
  await run.closed;
  return run;
}

const types = (run: Run): string[] => run.events.map((e) => e.type);

/** Events as the cassette holds them: the client's key and the ephemeral key masked. */
/** Events with each credential, or the digest marker that replaced it on disk, as one placeholder. */
const masked = (events: any[]): any[] => JSON.parse(JSON.stringify(events).replaceAll(KEY, '[REDACTED]').replaceAll(EPHEMERAL_KEY, '[REDACTED]').replace(/\[REDACTED:hmac-sha256:[0-9a-f]{16}\]/g, '[REDACTED]'));

test('the official Realtime client records a text session through the proxy, and a new proxy replays it with no upstream contact: same events, same order', async (t) => {
  const upstream = await fake(t);
  const { recorder, replayer } = await recordThenReplay(t, upstream);
  const recorded = await textSession(recorder);
  assert.deepEqual(recorded.errors, []);
  assert.deepEqual(types(recorded), ['session.created', 'session.updated', 'conversation.item.created', 'response.created', 'response.output_text.delta', 'response.output_text.delta', 'response.output_text.delta', 'response.done']);
  const cassette = await cassetteWith(recorder, 1);
  const interaction = cassette.interactions[0];
  assert.equal(interaction.response.code, 101);
  assert.equal(interaction.request.method, 'GET');
  assert.match(interaction.request.url, /\/v1\/realtime\?model=gpt-realtime$/);
  const frames = interaction.cassette_proxy.websocket.frames;
  assert.deepEqual(
    frames.map((f: any) => f.from + (f.close_code ? `:close ${f.close_code}` : '')),
    ['server', 'client', 'server', 'client', 'client', 'server', 'server', 'server', 'server', 'server', 'server', 'client:close 1000'],
  );
  assert.ok(frames.every((f: any, i: number) => i === 0 || f.at_ms >= frames[i - 1].at_ms), 'offsets in order');
  const connections = upstream.connections.length;

  const replay = await replayer();
  const replayed = await textSession(replay);
  assert.deepEqual(replayed.errors, []);
  assert.deepEqual(masked(replayed.events), masked(recorded.events), 'the same server events (as redacted on disk), in the same order');
  assert.equal(upstream.connections.length, connections, 'no upstream contact');
  // A plain HTTP GET of the same URL is not answered with the session's 101.
  const http = await fetch(`${replay.baseURL}/realtime?model=${MODEL}`);
  assert.equal(http.status, 404);
  assert.match(await http.text(), /is a WebSocket session; connect with a WebSocket client/);
});

/** A raw `ws` client to the proxy, for what the official clients cannot do (wrong frames, huge frames). */
function rawClient(proxy: TestProxy, path = `/v1/realtime?model=${MODEL}`, headers: Record<string, string> = { authorization: `Bearer ${KEY}` }): { ws: WebSocket; messages: any[]; closed: Promise<{ code: number; reason: string }>; opened: Promise<void> } {
  const ws = new WebSocket(`${proxy.url.replace('http', 'ws')}${path}`, { headers, maxPayload: 1 << 30 });
  const messages: any[] = [];
  ws.on('message', (data, isBinary) => messages.push(isBinary ? data : JSON.parse(String(data))));
  ws.on('error', () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body })));
    });
  });
  return { ws, messages, closed, opened };
}

const audioChunk = (fill: number): string => Buffer.alloc(3200, fill).toString('base64');

/** An audio session: output in audio, three appended chunks, commit, response.create; then a normal close. */
async function audioSession(proxy: TestProxy, fills = [1, 2, 3]): Promise<Run> {
  const rt = realtime(proxy);
  const run = watch(rt);
  await seen(run, 'session.created');
  rt.send({ type: 'session.update', session: { type: 'realtime', output_modalities: ['audio'] } });
  await seen(run, 'session.updated');
  for (const fill of fills) rt.send({ type: 'input_audio_buffer.append', event_id: `evt_${Math.random()}`, audio: audioChunk(fill) });
  rt.send({ type: 'input_audio_buffer.commit' });
  rt.send({ type: 'response.create' });
  await seenAny(run, ['response.done', 'error']);
  rt.close({ code: 1000, reason: 'done' });
  await run.closed;
  return run;
}

test('--ws-audio digest keeps audio as length and SHA-256: the cassette holds no audio, the same audio replays (audio deltas as silence of the recorded length), other audio is a miss', async (t) => {
  const upstream = await fake(t);
  const { recorder, replayer } = await recordThenReplay(t, upstream, { wsAudio: 'digest' });
  const recorded = await audioSession(recorder);
  assert.deepEqual(recorded.events.filter((e) => e.type === 'response.output_audio.delta').map((e) => Buffer.from(e.delta, 'base64').length), [4800, 4800, 4800]);
  await cassetteWith(recorder, 1);
  const text = await readFile(recorder.defaultCassette, 'utf8');
  assert.ok(!text.includes(audioChunk(1)) && !text.includes(Buffer.alloc(4800, 0x11).toString('base64')), 'no audio payload on disk');
  assert.match(text, /cassette-proxy:audio;sha256=[0-9a-f]{64};bytes=3200/);
  assert.match(text, /cassette-proxy:audio;sha256=[0-9a-f]{64};bytes=4800/);
  assert.match(text, /audio: digest/);

  const replay = await replayer();
  const same = await audioSession(replay);
  assert.deepEqual(same.errors, []);
  assert.deepEqual(types(same), types(recorded));
  const deltas = same.events.filter((e) => e.type === 'response.output_audio.delta').map((e) => Buffer.from(e.delta, 'base64'));
  assert.deepEqual(deltas.map((d) => d.length), [4800, 4800, 4800]);
  assert.ok(deltas.every((d) => d.every((b) => b === 0)), 'silence');

  await replay.rewind();
  const other = await audioSession(replay, [1, 9, 3]);
  const error = other.events.find((e) => e.type === 'error');
  assert.equal(error?.error.code, 'cassette_miss');
  assert.match(error.error.message, /frame \d+ \(input_audio_buffer\.append\), which differs in 1 field: audio: "cassette-proxy:audio;sha256=/);
  assert.equal(await other.closed, 1008);
});

test('a Responses API WebSocket mode session with two response.create frames on one connection (stream_id lanes) records and replays', async (t) => {
  const upstream = await fake(t);
  const { recorder, replayer } = await recordThenReplay(t, upstream);
  const run = async (proxy: TestProxy): Promise<any[]> => {
    const client = new OpenAI({ apiKey: KEY, baseURL: proxy.baseURL });
    const ws = new ResponsesWS(client);
    const events: any[] = [];
    ws.on('event', (e: any) => events.push(e));
    ws.send({ type: 'response.create', model: 'gpt-5', input: 'first', stream_id: 'lane-a' } as any);
    ws.send({ type: 'response.create', model: 'gpt-5', input: 'second', stream_id: 'lane-b' } as any);
    await eventually(() => assert.equal(events.filter((e) => e.type === 'response.completed').length, 2));
    ws.close();
    return events;
  };
  const recorded = await run(recorder);
  assert.deepEqual(recorded.filter((e) => e.type === 'response.completed').map((e) => e.stream_id), ['lane-a', 'lane-b']);
  const cassette = await cassetteWith(recorder, 1);
  assert.match(cassette.interactions[0].request.url, /\/v1\/responses$/);
  const connections = upstream.connections.length;
  const replayed = await run(await replayer());
  assert.deepEqual(replayed, recorded);
  assert.deepEqual(replayed.filter((e) => e.type === 'response.output_text.delta' && e.stream_id === 'lane-b').map((e) => e.delta), ['Hello', ' from second']);
  assert.equal(upstream.connections.length, connections, 'no upstream contact');
});

test('--replay-latency recorded keeps the recorded gaps between server frames (within 10 ms); --replay-speed divides them', async (t) => {
  const upstream = await fake(t, { deltaGapMs: 80 });
  const { recorder, replayer } = await recordThenReplay(t, upstream, { replayLatency: 'recorded' });
  await textSession(recorder);
  await recorder.store.flushAll();
  const frames = (await cassetteWith(recorder, 1)).interactions[0].cassette_proxy.websocket.frames;
  const deltaAt = frames.filter((f: any) => f.text?.includes('output_text.delta')).map((f: any) => f.at_ms);
  const recordedGaps = deltaAt.slice(1).map((at: number, i: number) => at - deltaAt[i]);
  const gapsOf = async (proxy: TestProxy): Promise<number[]> => {
    const rt = realtime(proxy);
    const arrivals: number[] = [];
    rt.on('response.output_text.delta', () => arrivals.push(performance.now()));
    const run = watch(rt);
    await seen(run, 'session.created');
    rt.send({ type: 'session.update', session: { type: 'realtime', instructions: `Be brief. Never repeat ${KEY}.` } });
    await seen(run, 'session.updated');
    rt.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Say hello' }] } });
    rt.send({ type: 'response.create' });
    await seen(run, 'response.done');
    rt.close({ code: 1000, reason: 'done' });
    await run.closed;
    return arrivals.slice(1).map((at, i) => at - arrivals[i]!);
  };
  // Timers on a loaded machine (tests run in parallel) can be late: a session is tried up to three
  // times, and the proxy's pacing passes when one run keeps every gap within 10 ms.
  const within = async (proxy: TestProxy, speed: number): Promise<void> => {
    let problems: string[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const gaps = await gapsOf(proxy);
      assert.equal(gaps.length, 2);
      problems = gaps.flatMap((gap, i) => (Math.abs(gap - recordedGaps[i] / speed) <= 10 ? [] : [`gap ${gap.toFixed(1)} ms at speed ${speed}, recorded ${recordedGaps[i]} ms`]));
      if (problems.length === 0) return;
    }
    assert.fail(problems.join('; '));
  };
  await within(await replayer(), 1);
  await within(await startTestProxy(t, { upstream: new URL('http://127.0.0.1:9'), mode: 'replay', cassetteDir: recorder.dir, replayLatency: 'recorded', replaySpeed: 4 }), 4);
  // Without pacing the deltas come at once.
  const unpaced = await startTestProxy(t, { upstream: new URL('http://127.0.0.1:9'), mode: 'replay', cassetteDir: recorder.dir });
  assert.ok((await gapsOf(unpaced)).every((gap) => gap < 40), 'no pacing without --replay-latency recorded');
});

test('a client whose second frame differs gets an error event naming the cassette, the recorded frame and the differing field, then close 1008; a bystander session replays meanwhile', async (t) => {
  const upstream = await fake(t);
  const { recorder, replayer } = await recordThenReplay(t, upstream);
  await textSession(recorder, 'Say hello');
  const replay = await replayer();
  const bystander = textSession(replay, 'Say hello');
  const wrong = await textSession(replay, 'Say goodbye').catch((err) => err);
  assert.ok(!(wrong instanceof Error), String(wrong));
  const error = wrong.events.find((e: any) => e.type === 'error');
  assert.equal(error.error.type, 'invalid_request_error');
  assert.equal(error.error.code, 'cassette_miss');
  assert.match(error.error.message, /no recording in \S+default\.yaml matches this client frame/);
  assert.match(error.error.message, /interaction 0, frame 3 \(conversation\.item\.create\), which differs in 1 field: item\.content\[0\]\.text: "Say hello" recorded, "Say goodbye" sent/);
  assert.equal(typeof error.error.event_id, 'string', "the client's event_id is echoed");
  assert.equal(await wrong.closed, 1008);
  const ok = await bystander;
  assert.deepEqual(ok.errors, []);
  assert.equal(ok.events.at(-1).type, 'response.done');
});

test('a replayed session whose client stays silent while the recording waits for it gets an error event and close 1008 after --ws-idle-timeout', async (t) => {
  const upstream = await fake(t);
  const { recorder, replayer } = await recordThenReplay(t, upstream, { wsIdleTimeoutMs: 200 });
  await textSession(recorder);
  const client = rawClient(await replayer());
  const { code } = await client.closed;
  assert.equal(code, 1008);
  assert.equal(client.messages[0].type, 'session.created');
  assert.match(client.messages.at(-1).error.message, /sent nothing for 0\.2 s \(--ws-idle-timeout\).*frame 1 \(session\.update\)/);
});

test('sessions recorded several times replay in recorded order, and POST /_proxy/rewind starts them over', async (t) => {
  const upstream = await fake(t);
  const { recorder, replayer } = await recordThenReplay(t, upstream, { replayPolicy: 'strict' });
  await textSession(recorder);
  await textSession(recorder);
  const replay = await replayer(2);
  const sessionId = async (): Promise<string> => (await textSession(replay)).events[0].session.id;
  assert.equal(await sessionId(), 'sess_1');
  assert.equal(await sessionId(), 'sess_2');
  const third = rawClient(replay);
  await assert.rejects(third.opened, (err: any) => err.status === 404 && /already used/.test(err.body));
  const rewound = await fetch(`${replay.url}/_proxy/rewind`, { method: 'POST' });
  assert.equal(rewound.status, 200);
  assert.equal(await sessionId(), 'sess_1');
});

test('no credential reaches the cassette: the Authorization key in headers and in frames, ephemeral keys from the server, sk- keys in any frame', async (t) => {
  const upstream = await fake(t);
  const recorder = await startTestProxy(t, { upstream: new URL(upstream.url) });
  await textSession(recorder, `my other key is ${OTHER_KEY}`);
  await cassetteWith(recorder, 1);
  const text = await readFile(recorder.defaultCassette, 'utf8');
  for (const secret of [KEY, EPHEMERAL_KEY, OTHER_KEY]) assert.ok(!text.includes(secret), `${secret.slice(0, 6)}… is not on disk`);
  assert.match(text, /\[REDACTED:hmac-sha256:[0-9a-f]{16}\]/);
  assert.equal(upstream.connections[0]!.headers.authorization, `Bearer ${KEY}`, 'the upstream got the real key');
});

test('replay with no recorded session answers the upgrade with 404 cassette_miss (never a hanging socket); passthrough records nothing', async (t) => {
  const upstream = await fake(t);
  const replay = await startTestProxy(t, { upstream: new URL(upstream.url), mode: 'replay' });
  const client = rawClient(replay);
  await assert.rejects(client.opened, (err: any) => err.status === 404 && /cassette_not_found|cassette_miss/.test(err.body));
  const pass = await startTestProxy(t, { upstream: new URL(upstream.url), mode: 'passthrough' });
  const run = await textSession(pass);
  assert.equal(run.events.at(-1).type, 'response.done');
  await pass.store.flushAll();
  await assert.rejects(readFile(pass.defaultCassette));
});

test('an upstream that refuses the upgrade is answered as it came (401), and an upstream closing mid-session relays its code and reason', async (t) => {
  const upstream = await fake(t);
  const proxy = await startTestProxy(t, { upstream: new URL(upstream.url) });
  const refused = rawClient(proxy, `/v1/realtime?model=${MODEL}`, { authorization: 'Bearer refuse-me' });
  await assert.rejects(refused.opened, (err: any) => err.status === 401 && /Incorrect API key/.test(err.body));
  const client = rawClient(proxy);
  await client.opened;
  client.ws.send(JSON.stringify({ type: 'test.close', code: 4001, reason: 'server says bye' }));
  assert.deepEqual(await client.closed, { code: 4001, reason: 'server says bye' });
  // A close frame ended it: the session is complete and saved, its close with it.
  const cassette = await cassetteWith(proxy, 1);
  assert.deepEqual(cassette.interactions[0].cassette_proxy.websocket.frames.at(-1), { from: 'server', at_ms: cassette.interactions[0].cassette_proxy.websocket.frames.at(-1).at_ms, close_code: 4001, close_reason: 'server says bye' });
});

test('a client that reads slower than the upstream sends holds the upstream back (backpressure) instead of the proxy buffering the session; then every frame arrives, in order, and the session closes cleanly', async (t) => {
  const FRAMES = 48;
  const SIZE = 1 << 20;
  // An upstream that floods as soon as the client says so, and watches how much it could not send.
  const server = http.createServer();
  const wss = new WebSocketServer({ server });
  let flooding: WebSocket | undefined;
  const closedUpstream = new Promise<number>((resolve) =>
    wss.on('connection', (ws) => {
      flooding = ws;
      ws.on('close', (code) => resolve(code));
      ws.once('message', () => {
        for (let i = 0; i < FRAMES; i++) ws.send(Buffer.alloc(SIZE, i));
      });
    }),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    wss.close();
    server.close();
  });
  const proxy = await startTestProxy(t, { upstream: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), mode: 'passthrough' });
  const client = rawClient(proxy);
  await client.opened;
  client.ws.pause();
  client.ws.send('go');
  // The proxy stops reading from the upstream once about 1 MiB waits for the client, so most of
  // the 48 MiB stays with the upstream for as long as the client does not read (loopback sockets
  // hold a few MiB at most). Without backpressure the proxy would read it all at once.
  await eventually(() => assert.ok(flooding && flooding.bufferedAmount > 0));
  await sleep(1000);
  const held = flooding!.bufferedAmount;
  assert.ok(held > 24 * SIZE, `the upstream still holds ${(held / SIZE).toFixed(1)} MiB after 1 s`);
  client.ws.resume();
  await eventually(() => assert.equal(client.messages.length, FRAMES), 20_000);
  for (const [i, frame] of client.messages.entries()) {
    assert.equal((frame as Buffer).length, SIZE);
    assert.ok((frame as Buffer)[0] === i && (frame as Buffer)[SIZE - 1] === i, `frame ${i} in order`);
  }
  client.ws.close(1000, 'done');
  assert.deepEqual(await client.closed, { code: 1000, reason: 'done' });
  assert.equal(await closedUpstream, 1000);
});

test('hostile frames end their own session only: an oversized or invalid UTF-8 frame from the upstream (client gets 1014), an oversized one from the client (1009, upstream gets 1001); nothing half-done is saved; a bystander HTTP request is served', async (t) => {
  const upstream = await fake(t);
  const http = await FakeUpstream.start();
  t.after(() => http.close());
  const captured = capturedLog();
  const proxy = await startTestProxy(t, { upstream: new URL(upstream.url), maxBody: 64 * 1024 }, captured.log);
  const bystander = await startTestProxy(t, { upstream: new URL(http.url), maxBody: 64 * 1024 });
  for (const event of [{ type: 'test.huge', bytes: 100 * 1024 }, { type: 'test.bad_utf8' }]) {
    const client = rawClient(proxy);
    await client.opened;
    client.ws.send(JSON.stringify(event));
    const { code } = await client.closed;
    assert.equal(code, 1014, event.type);
  }
  const client = rawClient(proxy);
  await client.opened;
  const closesBefore = upstream.closes.length;
  client.ws.send(Buffer.alloc(100 * 1024, 0x61));
  assert.equal((await client.closed).code, 1009);
  await eventually(() => assert.equal(upstream.closes.length, closesBefore + 1));
  assert.equal(upstream.closes.at(-1), 1001);
  const res = await fetch(`${bystander.baseURL}/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"m","input":"fine"}' });
  assert.equal(res.status, 200);
  await proxy.store.flushAll();
  await assert.rejects(readFile(proxy.defaultCassette), 'no half-done session saved');
  await eventually(() => assert.equal(captured.lines().filter((l) => l.websocket && l.outcome === 'error').length, 3));
});

test('a WebSocket from a foreign Origin is refused like any request (403), and never reaches the upstream', async (t) => {
  const upstream = await fake(t);
  const proxy = await startTestProxy(t, { upstream: new URL(upstream.url) });
  const client = rawClient(proxy, `/v1/realtime?model=${MODEL}`, { authorization: `Bearer ${KEY}`, origin: 'https://evil.example' });
  await assert.rejects(client.opened, (err: any) => err.status === 403 && /origin_not_allowed/.test(err.body));
  assert.equal(upstream.connections.length, 0);
});

test('shutdown closes open sessions with 1001 (going away) after the grace period, and saves none of them', async (t) => {
  const upstream = await fake(t);
  const captured = capturedLog();
  const proxy = await startTestProxy(t, { upstream: new URL(upstream.url) }, captured.log);
  const client = rawClient(proxy);
  await client.opened;
  await eventually(() => assert.equal(client.messages[0]?.type, 'session.created'));
  const closing = performance.now();
  await proxy.close(100);
  assert.ok(performance.now() - closing < 3000, 'shutdown is not held by the session');
  assert.equal((await client.closed).code, 1001);
  await eventually(() => assert.equal(upstream.closes.at(-1), 1001));
  const line = await eventually(() => captured.lines().find((l) => l.websocket)!);
  assert.equal(line.saved, false, 'a cut session is not saved');
  await proxy.store.flushAll();
  await assert.rejects(readFile(proxy.defaultCassette));
});
