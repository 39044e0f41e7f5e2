/**
 * WebSocket sessions (Realtime API, Responses API WebSocket mode): relayed and recorded, then
 * replayed by a new proxy with no upstream contact, against a fake that follows the documented events.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import type { Config } from '../../src/config.js';
import { EPHEMERAL_KEY, FakeRealtime } from '../support/fake-realtime.js';
import { cassetteWith, startTestProxy, type TestProxy } from '../support/proxy.js';
import { eventually } from '../support/wait.js';

const KEY = 'sk-proj-realtime0123456789abcdefXYZ';
const MODEL = 'gpt-realtime';

async function fake(t: TestContext, options: { deltaGapMs?: number } = {}): Promise<FakeRealtime> {
  const upstream = await FakeRealtime.start(options);
  t.after(() => upstream.close());
  return upstream;
}

/** A recording proxy in front of `upstream`, and a replaying one over the same folder whose upstream is a port nobody listens on. */
async function recordThenReplay(t: TestContext, upstream: FakeRealtime, overrides: Partial<Config> = {}): Promise<{ recorder: TestProxy; replayer: () => Promise<TestProxy> }> {
  const recorder = await startTestProxy(t, { upstream: new URL(upstream.url), ...overrides });
  return {
    recorder,
    replayer: async () => {
      await recorder.store.flushAll();
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
  await seen(run, 'response.done');
  rt.close({ code: 1000, reason: 'done' });
  await run.closed;
  return run;
}

const types = (run: Run): string[] => run.events.map((e) => e.type);

/** Events as the cassette holds them: the client's key and the ephemeral key masked. */
const masked = (events: any[]): any[] => JSON.parse(JSON.stringify(events).replaceAll(KEY, '[REDACTED]').replaceAll(EPHEMERAL_KEY, '[REDACTED]'));

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
  assert.deepEqual(replayed.events, masked(recorded.events), 'the same server events (as redacted on disk), in the same order');
  assert.equal(upstream.connections.length, connections, 'no upstream contact');
});
