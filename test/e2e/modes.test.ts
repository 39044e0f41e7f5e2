/** Runtime modes and the admin API: switching, guards, lock, metrics and cassette counts. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type OpenAI from 'openai';
import type { Config } from '../../src/config.js';
import { FakeUpstream, SEED_TURN_ONE_REQUEST, makeTestKey } from '../support/fake-upstream.js';
import { cassetteWith, startTestProxy, type TestProxy } from '../support/proxy.js';
import { deferred, eventually } from '../support/wait.js';

async function setup(t: TestContext, overrides: Partial<Config> = {}) {
  const key = makeTestKey();
  const upstream = await FakeUpstream.start({ apiKey: key });
  t.after(() => upstream.close());
  const proxy = await startTestProxy(t, { upstream: new URL(upstream.url), ...overrides });
  return { key, upstream, proxy, client: proxy.client(key) };
}

function admin(proxy: TestProxy, path: string, init: { method?: string; body?: unknown; token?: string } = {}) {
  return fetch(`${proxy.url}/_proxy/${path}`, {
    method: init.method ?? 'GET',
    headers: { 'content-type': 'application/json', ...(init.token && { authorization: `Bearer ${init.token}` }) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
}

async function setMode(proxy: TestProxy, body: unknown, token?: string): Promise<Response> {
  return admin(proxy, 'mode', { method: 'PUT', body, token });
}

async function toolCall(client: OpenAI, onFirstChunk?: () => Promise<void>) {
  const stream = await client.chat.completions.create({ ...SEED_TURN_ONE_REQUEST, stream: true } as OpenAI.ChatCompletionCreateParamsStreaming);
  let name = '';
  let first = true;
  for await (const chunk of stream) {
    if (first && onFirstChunk) await onFirstChunk();
    first = false;
    name += chunk.choices[0]?.delta?.tool_calls?.[0]?.function?.name ?? '';
  }
  return name;
}

/** One sample's value from Prometheus text, e.g. metric('x_total{mode="record",outcome="recorded"}'). */
async function metric(proxy: TestProxy, sample: string): Promise<number> {
  const text = await (await admin(proxy, 'metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

test('record → replay at runtime: the stream in flight completes and is saved, then the cassette answers and the upstream sees nothing more', { timeout: 10_000 }, async (t) => {
  const { upstream, proxy, client } = await setup(t);
  const release = deferred();
  upstream.holdAfterFirstEvent = release.promise;

  const name = await toolCall(client, async () => {
    if (upstream.holdAfterFirstEvent) {
      const res = await setMode(proxy, { mode: 'replay' });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { mode: 'replay', cassette: 'default' });
      upstream.holdAfterFirstEvent = undefined;
      release.resolve();
    }
  });
  assert.equal(name, 'add');
  await cassetteWith(proxy, 1);
  const seen = upstream.requests.length;
  assert.equal(await toolCall(client), 'add');
  assert.equal(upstream.requests.length, seen, 'the replayed request never reached the upstream');
  assert.deepEqual(await (await admin(proxy, 'mode')).json(), { mode: 'replay', cassette: 'default' });
});

test('replay-or-record answers what matches and records what does not; passthrough saves nothing', async (t) => {
  const { upstream, proxy, client } = await setup(t, { mode: 'replay-or-record' });
  assert.equal(await toolCall(client), 'add');
  await cassetteWith(proxy, 1);
  await eventually(async () => {
    const before = upstream.requests.length;
    assert.equal(await toolCall(client), 'add');
    assert.equal(upstream.requests.length, before, 'served from the cassette');
  });

  assert.equal((await setMode(proxy, { mode: 'passthrough', cassette: 'untouched' })).status, 200);
  const chat = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(chat.object, 'chat.completion');
  await proxy.store.flushAll();
  assert.ok(!existsSync(proxy.defaultCassette), 'passthrough wrote no cassette');
});

test('runtime changes: a token is needed when one is set, a wrong one is refused, --lock-mode refuses even with it', async (t) => {
  const token = 'admin-token-for-tests';
  const { proxy } = await setup(t, { adminToken: token });
  const missing = await setMode(proxy, { mode: 'replay' });
  assert.equal(missing.status, 401);
  assert.equal(((await missing.json()) as any).error.code, 'admin_unauthorized');
  assert.equal((await setMode(proxy, { mode: 'replay' }, 'wrong-token-value')).status, 401);
  assert.equal((await setMode(proxy, { mode: 'replay' }, token)).status, 200);
  assert.equal(((await (await admin(proxy, 'health')).json()) as any).mode, 'replay', 'reads need no token');

  const locked = await setup(t, { adminToken: token, lockMode: true });
  const refused = await setMode(locked.proxy, { mode: 'replay' }, token);
  assert.equal(refused.status, 409);
  assert.equal(((await refused.json()) as any).error.code, 'mode_locked');
  assert.equal((await setMode(locked.proxy, { mode: 'replay' })).status, 409, 'the lock is checked before the token');
  assert.equal(((await (await admin(locked.proxy, 'mode')).json()) as any).mode, 'record');
});

test('admin answers: health, bad changes, unknown paths; /_proxy/ is never forwarded', async (t) => {
  const { upstream, proxy } = await setup(t);
  const health = await admin(proxy, 'health');
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok', mode: 'record', cassette: 'default' });
  for (const [body, code] of [
    [{ mode: 'sideways' }, 'invalid_request'],
    [{ cassette: '../x' }, 'invalid_cassette_name'],
    [{ mood: 'replay' }, 'invalid_request'],
    [{}, 'invalid_request'],
  ] as const) {
    const res = await setMode(proxy, body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(((await res.json()) as any).error.code, code);
  }
  assert.equal((await admin(proxy, 'nothing-here')).status, 404);
  assert.equal((await admin(proxy, 'health', { method: 'DELETE' })).status, 405);
  assert.equal(upstream.requests.length, 0);
});

test('metrics and /_proxy/cassettes move by the right amounts after known traffic', async (t) => {
  const { proxy, client } = await setup(t);
  assert.equal(await toolCall(client), 'add');
  await client.embeddings.create({ model: 'text-embedding-3-small', input: 'x' });
  await cassetteWith(proxy, 2);
  assert.equal(await metric(proxy, 'cassette_proxy_exchanges_total{mode="record",outcome="recorded",upstream="openai"}'), 2);
  assert.equal(await metric(proxy, 'cassette_proxy_upstream_ttfb_seconds_count'), 2);
  assert.equal(await metric(proxy, 'cassette_proxy_upstream_duration_seconds_count'), 2);
  assert.ok((await metric(proxy, 'cassette_proxy_cassette_saves_total')) >= 1);
  assert.equal(await metric(proxy, 'cassette_proxy_cassette_save_failures_total'), 0);
  assert.equal(await metric(proxy, 'cassette_proxy_open_streams'), 0);

  assert.equal((await setMode(proxy, { mode: 'replay' })).status, 200);
  assert.equal(await toolCall(client), 'add');
  assert.equal(await toolCall(client), 'add');
  await assert.rejects(client.embeddings.create({ model: 'text-embedding-3-small', input: 'never recorded' }), (err: any) => err.status === 404);
  assert.equal(await metric(proxy, 'cassette_proxy_exchanges_total{mode="replay",outcome="replayed",upstream="openai"}'), 2);
  assert.equal(await metric(proxy, 'cassette_proxy_exchanges_total{mode="replay",outcome="miss",upstream="openai"}'), 1);
  assert.equal(await metric(proxy, 'cassette_proxy_upstream_ttfb_seconds_count'), 2, 'replays never touched the upstream');

  const { cassettes } = (await (await admin(proxy, 'cassettes')).json()) as any;
  assert.equal(cassettes.length, 1);
  assert.match(cassettes[0].cassette, /default\.yaml$/);
  assert.equal(cassettes[0].interactions_on_disk, 2);
  assert.equal(cassettes[0].replayed, 1);
  assert.equal(cassettes[0].never_replayed, 1);
  assert.equal(cassettes[0].recorded_since_start, 2);
});

test('an SSE response counts as an open stream while it is being sent', { timeout: 10_000 }, async (t) => {
  const { upstream, proxy, client } = await setup(t);
  const release = deferred();
  upstream.holdAfterFirstEvent = release.promise;
  await toolCall(client, async () => {
    if (!upstream.holdAfterFirstEvent) return;
    assert.equal(await metric(proxy, 'cassette_proxy_open_streams'), 1);
    upstream.holdAfterFirstEvent = undefined;
    release.resolve();
  });
  await eventually(async () => assert.equal(await metric(proxy, 'cassette_proxy_open_streams'), 0));
});

test('replay-or-record with strict: a recording used before the proxy appended to the cassette stays used', async (t) => {
  const { upstream, proxy, client } = await setup(t, { mode: 'replay-or-record', replayPolicy: 'strict' });
  const ask = (input: string) => client.embeddings.create({ model: 'text-embedding-3-small', input });
  await ask('a'); // recorded
  await cassetteWith(proxy, 1);
  await sleep(300); // past the revalidation window: the cassette with "a" is read
  const sent = upstream.requests.length;
  await ask('a'); // replayed: uses the one recording of "a"
  assert.equal(upstream.requests.length, sent);
  await ask('b'); // recorded: the proxy appends to the cassette, which is then read again
  await cassetteWith(proxy, 2);
  await sleep(300); // past the revalidation window: the new file is read
  const before = upstream.requests.length;
  await ask('b'); // replayed: the new file was read
  assert.equal(upstream.requests.length, before);
  await ask('a'); // the recording of "a" is used up, so this one goes upstream and is recorded
  assert.equal(upstream.requests.length, before + 1);
});
