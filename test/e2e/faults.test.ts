/**
 * Fault injection through a real proxy, seen by the official OpenAI client: each fault gives what
 * the SDK shows for the real thing, in replay and in record; a faulted exchange is never saved; the
 * header is never forwarded nor recorded; seeded rules fault the same requests in two runs.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import OpenAI from 'openai';
import type { Config } from '../../src/config.js';
import type { Feature } from '../../src/exchange/hooks.js';
import { draw } from '../../src/faults/rules.js';
import { FakeUpstream, makeTestKey } from '../support/fake-upstream.js';
import { capturedLog } from '../support/log.js';
import { cassetteWith, startTestProxy, type TestProxy } from '../support/proxy.js';

const WORDS = 'one two three';
/** A streamed chat whose answer has 6 events: the role, one per word, the stop, and `[DONE]`. */
const STREAM = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: `echo:${WORDS}` }], stream: true as const };
const CHAT = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Say hello' }] };

interface Setup {
  proxy: TestProxy;
  upstream: FakeUpstream;
  key: string;
  client: (options?: { maxRetries?: number; timeout?: number; fault?: string }) => OpenAI;
}

/** A proxy with the stream and the chat recorded, switched to `mode` (record: nothing recorded). */
async function setup(t: TestContext, mode: 'replay' | 'record', overrides: Partial<Config> = {}): Promise<Setup> {
  const key = makeTestKey();
  const upstream = await FakeUpstream.start({ apiKey: key });
  t.after(() => upstream.close());
  const proxy = await startTestProxy(t, { upstream: new URL(upstream.url), ...overrides });
  const client = ({ maxRetries = 0, timeout, fault }: { maxRetries?: number; timeout?: number; fault?: string } = {}): OpenAI =>
    new OpenAI({ apiKey: key, baseURL: proxy.baseURL, maxRetries, ...(timeout && { timeout }), defaultHeaders: fault ? { 'x-cassette-fault': fault } : {} });
  if (mode === 'replay') {
    for await (const _ of await client().chat.completions.create(STREAM));
    await client().chat.completions.create(CHAT);
    await cassetteWith(proxy, 2);
    await proxy.switchTo({ mode: 'replay' });
  }
  return { proxy, upstream, key, client };
}

async function chunksOf(stream: AsyncIterable<OpenAI.ChatCompletionChunk>): Promise<{ chunks: OpenAI.ChatCompletionChunk[]; error?: unknown }> {
  const chunks: OpenAI.ChatCompletionChunk[] = [];
  try {
    for await (const chunk of stream) chunks.push(chunk);
  } catch (error) {
    return { chunks, error };
  }
  return { chunks };
}

async function metricsText(proxy: TestProxy): Promise<string> {
  return (await fetch(`${proxy.url}/_proxy/metrics`)).text();
}

for (const mode of ['replay', 'record'] as const) {
  test(`${mode}: rate-limit gives the SDK a RateLimitError with retry-after, retry-after-ms and the x-ratelimit-* headers, in OpenAI's error shape; counted, logged and not saved`, async (t) => {
    const captured = capturedLog();
    const key = makeTestKey();
    const upstream = await FakeUpstream.start({ apiKey: key });
    t.after(() => upstream.close());
    const proxy = await startTestProxy(t, { upstream: new URL(upstream.url), mode }, captured.log);
    const client = new OpenAI({ apiKey: key, baseURL: proxy.baseURL, maxRetries: 0 });
    if (mode === 'replay') {
      await proxy.switchTo({ mode: 'record' });
      await client.chat.completions.create(CHAT);
      await cassetteWith(proxy, 1);
      await proxy.switchTo({ mode: 'replay' });
    }
    const error = await client.chat.completions.create(CHAT, { headers: { 'x-cassette-fault': 'rate-limit' } }).then(
      () => assert.fail('no error'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof OpenAI.RateLimitError, String(error));
    assert.equal(error.status, 429);
    assert.equal(error.code, 'rate_limit_exceeded');
    assert.equal(error.type, 'requests');
    const headers = error.headers!;
    assert.equal(headers.get('retry-after'), '1');
    assert.equal(headers.get('retry-after-ms'), '1000');
    assert.equal(headers.get('x-should-retry'), 'true', 'the SDK retries it as it retries a real 429');
    for (const name of ['limit-requests', 'remaining-requests', 'reset-requests', 'limit-tokens', 'remaining-tokens', 'reset-tokens']) assert.ok(headers.get(`x-ratelimit-${name}`), name);
    assert.equal(headers.get('x-ratelimit-remaining-requests'), '0');

    assert.match(await metricsText(proxy), /cassette_proxy_faults_injected_total\{fault="rate-limit"\} 1/);
    const line = captured.lines().find((l) => l.msg === 'exchange' && l.fault !== undefined);
    assert.equal(line?.fault, 'rate-limit');
    assert.equal(line?.status, 429);
    await cassetteWith(proxy, mode === 'replay' ? 1 : 0).catch(async (err: unknown) => {
      // Record mode with nothing saved has no cassette file at all.
      if (mode === 'record' && (err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    });
    assert.equal(upstream.requests.length, mode === 'replay' ? 1 : 1, mode === 'replay' ? 'replay never goes upstream' : 'record forwards, then replaces the answer');
  });
}

test('server-error and overloaded give the SDK an InternalServerError (500, 503) that it would retry', async (t) => {
  const { client } = await setup(t, 'replay');
  for (const [fault, status] of [
    ['server-error', 500],
    ['overloaded', 503],
  ] as const) {
    const error = await client({ fault }).chat.completions.create(CHAT).then(
      () => assert.fail('no error'),
      (err: unknown) => err,
    );
    assert.ok(error instanceof OpenAI.InternalServerError, String(error));
    assert.equal(error.status, status);
    assert.equal(error.headers?.get('x-should-retry'), 'true');
    assert.equal(error.code, fault === 'server-error' ? 'server_error' : 'overloaded');
  }
});

test('timeout: no head until the client gives up (APIConnectionTimeoutError), and at most --upstream-timeout, then the connection is closed with no answer', async (t) => {
  for (const mode of ['replay', 'record'] as const) {
    const { client, proxy } = await setup(t, mode, { upstreamTimeoutMs: 300 });
    const started = performance.now();
    await assert.rejects(client({ fault: 'timeout', timeout: 150 }).chat.completions.create(CHAT), OpenAI.APIConnectionTimeoutError);
    assert.ok(performance.now() - started < 1000);
    // A client that waits longer than --upstream-timeout: the connection closes with no answer.
    const bounded = performance.now();
    await assert.rejects(
      client({ fault: 'timeout', timeout: 10_000 }).chat.completions.create(CHAT),
      (err: unknown) => err instanceof OpenAI.APIConnectionError && !(err instanceof OpenAI.APIConnectionTimeoutError),
    );
    const waited = performance.now() - bounded;
    assert.ok(waited >= 290 && waited < 3000, `closed after ${waited} ms`);
    assert.match(await metricsText(proxy), /cassette_proxy_faults_injected_total\{fault="timeout"\} 2/);
  }
});

test('drop-after=2: the SDK stream throws after 2 chunks, never a clean end (replay and record)', async (t) => {
  for (const mode of ['replay', 'record'] as const) {
    const { client, upstream } = await setup(t, mode);
    const { chunks, error } = await chunksOf(await client({ fault: 'drop-after=2' }).chat.completions.create(STREAM));
    assert.equal(chunks.length, 2);
    assert.ok(error instanceof Error, `${mode}: the stream ended cleanly`);
    // More than the stream has: still cut at its end.
    const all = await chunksOf(await client({ fault: 'drop-after=100' }).chat.completions.create(STREAM));
    assert.equal(all.chunks.length, 5);
    assert.ok(all.error instanceof Error, `${mode}: a short stream ended cleanly`);
    assert.ok(upstream.requests.every((r) => r.headers['x-cassette-fault'] === undefined), 'the header is never forwarded');
  }
});

test('no-final-event: the stream ends cleanly without data: [DONE]; the SDK iterator ends with every chunk and no error', async (t) => {
  for (const mode of ['replay', 'record'] as const) {
    const { client, proxy, key } = await setup(t, mode);
    const { chunks, error } = await chunksOf(await client({ fault: 'no-final-event' }).chat.completions.create(STREAM));
    assert.equal(error, undefined);
    assert.equal(chunks.length, 5);
    assert.equal(chunks.at(-1)?.choices[0]?.finish_reason, 'stop');
    const raw = await fetch(`${proxy.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-cassette-fault': 'no-final-event' },
      body: JSON.stringify(STREAM),
    });
    const text = await raw.text();
    assert.ok(!text.includes('[DONE]'), mode);
    assert.ok(text.endsWith('\n\n'), 'the last event is whole');
  }
});

test('no-final-event on a Responses stream leaves out response.completed', async (t) => {
  const { client, proxy } = await setup(t, 'record');
  const events: string[] = [];
  for await (const event of await client({ fault: 'no-final-event' }).responses.create({ model: 'gpt-4o-mini', input: 'hi', stream: true })) events.push(event.type);
  assert.ok(events.includes('response.output_text.done'));
  assert.ok(!events.includes('response.completed'));
  assert.match(await metricsText(proxy), /faults_injected_total\{fault="no-final-event"\} 1/);
});

test('malformed-event: one event has broken JSON, and the SDK stream throws its parse error', async (t) => {
  t.mock.method(console, 'error', () => undefined); // the SDK prints the event it could not parse
  for (const mode of ['replay', 'record'] as const) {
    const { client } = await setup(t, mode);
    const { chunks, error } = await chunksOf(await client({ fault: 'malformed-event' }).chat.completions.create(STREAM));
    assert.equal(chunks.length, 0);
    assert.ok(error instanceof SyntaxError, `${mode}: ${String(error)}`);
  }
});

/** Milliseconds until the first event of a streamed chat arrives. */
async function firstEventMs(setupOf: Setup, fault?: string): Promise<number> {
  const started = performance.now();
  const stream = await setupOf.client(fault ? { fault } : {}).chat.completions.create(STREAM);
  let first = 0;
  for await (const _ of stream) first ||= performance.now() - started;
  return first;
}

test('slow-first-byte=500 delays the head and the first event by 500 ms, in replay and in record; slow-events delays each event', async (t) => {
  for (const mode of ['replay', 'record'] as const) {
    const s = await setup(t, mode);
    await firstEventMs(s); // connections opened, so that both timings below reuse them
    const base = await firstEventMs(s);
    const slow = await firstEventMs(s, 'slow-first-byte=500');
    // The lower bound is exact; the upper one leaves room for a loaded test machine.
    assert.ok(slow - base >= 480 && slow - base <= 600, `${mode}: ${slow} ms against ${base} ms`);
    const started = performance.now();
    for await (const _ of await s.client({ fault: 'slow-events=60' }).chat.completions.create(STREAM));
    assert.ok(performance.now() - started >= 6 * 60 - 10, `${mode}: six events, each 60 ms late`);
  }
});

test('with maxRetries 2 and a seeded rule, the SDK retries a rate-limit and succeeds on the third attempt (--replay-retry-after 0: no wait)', async (t) => {
  // A seed whose rule faults the first two requests it matches and lets the third through.
  const rate = 0.5;
  const seed = Array.from({ length: 1000 }, (_, i) => i).find((s) => draw(s, 0, 0) < rate && draw(s, 0, 1) < rate && draw(s, 0, 2) >= rate)!;
  const { client, proxy } = await setup(t, 'replay', { replayRetryAfter: 0 });
  const put = await fetch(`${proxy.url}/_proxy/faults`, { method: 'PUT', body: JSON.stringify({ rules: [{ fault: 'rate-limit', rate, path: '/v1/chat/completions' }], seed }) });
  assert.equal(put.status, 200);
  const started = performance.now();
  const answer = await client({ maxRetries: 2 }).chat.completions.create(CHAT);
  assert.equal(answer.object, 'chat.completion');
  assert.ok(performance.now() - started < 400, 'retry-after 0: the SDK did not wait');
  assert.match(await metricsText(proxy), /faults_injected_total\{fault="rate-limit"\} 2/);
  // Without retries the same rule shows its error.
  await fetch(`${proxy.url}/_proxy/faults`, { method: 'PUT', body: JSON.stringify({ rules: [{ fault: 'rate-limit', rate, path: '/v1/chat/completions' }], seed }) });
  const error = await client().chat.completions.create(CHAT).catch((err: unknown) => err);
  assert.ok(error instanceof OpenAI.RateLimitError);
  assert.equal(error.headers?.get('retry-after'), '0');
  assert.equal(error.headers?.get('retry-after-ms'), '0');
});

test('the same rules with the same seed fault the same requests in two runs (two proxies); rules match by path prefix and method', async (t) => {
  const statuses = async (): Promise<number[]> => {
    const { proxy, key } = await setup(t, 'replay', { replayRetryAfter: 0 });
    const rules = { rules: [{ fault: 'server-error', rate: 0.3, path: '/v1/chat/*', method: 'post' }], seed: 7 };
    assert.equal((await fetch(`${proxy.url}/_proxy/faults`, { method: 'PUT', body: JSON.stringify(rules) })).status, 200);
    const out: number[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${proxy.baseURL}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(CHAT) });
      await res.arrayBuffer();
      out.push(res.status);
    }
    // Another path is not faulted by the rule.
    const models = await fetch(`${proxy.baseURL}/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: '{}' });
    assert.notEqual(models.status, 500);
    await models.arrayBuffer();
    return out;
  };
  const first = await statuses();
  const second = await statuses();
  assert.deepEqual(first, second);
  assert.ok(first.includes(500) && first.includes(200), first.join(' '));
});

test('record: a faulted exchange is absent from the cassette; x-cassette-fault is neither forwarded nor recorded', async (t) => {
  const { client, proxy, upstream } = await setup(t, 'record');
  await client({ fault: 'server-error' }).chat.completions.create(CHAT).catch(() => undefined);
  for await (const _ of await client({ fault: 'slow-events=1' }).chat.completions.create(STREAM));
  // A stream fault on an answer that is no stream changes nothing: that exchange is saved, without the header.
  await client({ fault: 'drop-after=1' }).chat.completions.create(CHAT);
  const cassette = await cassetteWith(proxy, 1);
  const [interaction] = cassette.interactions;
  assert.equal(interaction.response.code, 200);
  assert.ok(!JSON.stringify(interaction.request.headers).toLowerCase().includes('x-cassette-fault'));
  assert.equal(upstream.requests.length, 3, 'record forwards every request');
  assert.ok(upstream.requests.every((r) => r.headers['x-cassette-fault'] === undefined));
});

test('a bad x-cassette-fault is refused with 400 before anything is forwarded', async (t) => {
  const { client, upstream } = await setup(t, 'record');
  for (const [fault, message] of [
    ['rate-limits', /unknown fault "rate-limits"/],
    ['slow-events=fast', /slow-events needs a whole number of milliseconds/],
    ['rate-limit,drop-after=2', /rate-limit replaces the whole answer/],
  ] as const) {
    const error = await client({ fault }).chat.completions.create(CHAT).catch((err: unknown) => err);
    assert.ok(error instanceof OpenAI.BadRequestError, String(error));
    assert.equal(error.code, 'invalid_request');
    assert.match(error.message, message);
  }
  assert.equal(upstream.requests.length, 0);
});

test('PUT, GET and DELETE /_proxy/faults: rules checked, guarded as a change (a foreign Origin is refused), refused under --lock-mode', async (t) => {
  const { proxy } = await setup(t, 'replay');
  const url = `${proxy.url}/_proxy/faults`;
  assert.deepEqual(await (await fetch(url)).json(), { rules: [], seed: null });
  const rules = { rules: [{ fault: 'slow-first-byte=100,drop-after=3', rate: 0.25, upstream: 'openai' }], seed: 42 };
  const put = await fetch(url, { method: 'PUT', body: JSON.stringify(rules) });
  assert.deepEqual(await put.json(), rules);
  assert.deepEqual(await (await fetch(url)).json(), rules);
  const bad = await fetch(url, { method: 'PUT', body: JSON.stringify({ rules: [{ fault: 'rate-limit', rate: 2 }] }) });
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { error: { message: string } }).error.message, /rules\[0\]\.rate must be a number from 0 to 1/);
  const foreign = await fetch(url, { method: 'DELETE', headers: { origin: 'https://evil.example' } });
  assert.equal(foreign.status, 403);
  assert.equal(((await foreign.json()) as { error: { code: string } }).error.code, 'origin_not_allowed');
  assert.deepEqual(await (await fetch(url)).json(), rules, 'the refused DELETE changed nothing');
  assert.deepEqual(await (await fetch(url, { method: 'DELETE' })).json(), { rules: [], seed: null });
  assert.deepEqual(await (await fetch(url)).json(), { rules: [], seed: null });

  const locked = await setup(t, 'replay', { lockMode: true });
  const refused = await fetch(`${locked.proxy.url}/_proxy/faults`, { method: 'PUT', body: JSON.stringify(rules) });
  assert.equal(refused.status, 409);
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'mode_locked');
});

test('--faults rules apply from the start', async (t) => {
  const rules = { rules: [{ fault: 'overloaded', rate: 1, path: '/v1/embeddings' }], seed: 1 };
  const { client, proxy } = await setup(t, 'record', { faults: rules });
  const error = await client().embeddings.create({ model: 'text-embedding-3-small', input: 'hi' }).catch((err: unknown) => err);
  assert.ok(error instanceof OpenAI.InternalServerError, String(error));
  assert.equal(error.status, 503);
  assert.deepEqual(await (await fetch(`${proxy.url}/_proxy/faults`)).json(), rules);
});

test('--replay-retry-after rewrites retry-after and retry-after-ms in a replayed answer; the cassette keeps what was recorded', async (t) => {
  const key = makeTestKey();
  const upstream = await FakeUpstream.start({ apiKey: key });
  t.after(() => upstream.close());
  // The recorded answer asked for 30 s, as a production 429 might.
  const asked: Feature = {
    afterCapture: (interaction) => ({ ...interaction, response: { ...interaction.response, headers: { ...interaction.response.headers, 'Retry-After': ['30'], 'Retry-After-Ms': ['30000'] } } }),
  };
  const proxy = await startTestProxy(t, { upstream: new URL(upstream.url), replayRetryAfter: 0.25 }, undefined, [asked]);
  const client = new OpenAI({ apiKey: key, baseURL: proxy.baseURL, maxRetries: 0 });
  await client.chat.completions.create(CHAT);
  await cassetteWith(proxy, 1);
  await proxy.switchTo({ mode: 'replay' });
  const { response } = await client.chat.completions.create(CHAT).withResponse();
  assert.equal(response.headers.get('retry-after'), '1');
  assert.equal(response.headers.get('retry-after-ms'), '250');
  assert.deepEqual((await cassetteWith(proxy, 1)).interactions[0].response.headers['Retry-After'], ['30']);
});
