/**
 * Rewind: a long-lived replay proxy serves a suite run after run; POST /_proxy/rewind (or the
 * library's rewind()) puts replay positions back to the start, so every run gets the same answers
 * in the same order, under `repeat` and under `strict`.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import OpenAI from 'openai';
import { startProxy } from '../../src/api/index.js';
import type { ReplayPolicy } from '../../src/mode.js';
import { FakeUpstream, makeTestKey } from '../support/fake-upstream.js';
import { cassetteWith, startTestProxy, type TestProxy } from '../support/proxy.js';

/** A cassette where one request was recorded twice: first with a valid key (200), then with a wrong one (401). */
async function recordOkThenUnauthorized(t: TestContext): Promise<{ dir: string; key: string }> {
  const key = makeTestKey();
  const upstream = await FakeUpstream.start({ apiKey: key });
  t.after(() => upstream.close());
  const recorder = await startTestProxy(t, { upstream: new URL(upstream.url) });
  await ask(recorder.client(key));
  await assert.rejects(ask(recorder.client(makeTestKey())), OpenAI.AuthenticationError);
  await cassetteWith(recorder, 2);
  return { dir: recorder.dir, key };
}

const ask = (client: OpenAI) => client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });

/** One run of the "suite": the two calls, and what each got. */
async function suite(client: OpenAI): Promise<string[]> {
  const outcomes: string[] = [];
  for (let i = 0; i < 2; i++) outcomes.push(await ask(client).then(() => '200', (err: { status?: number }) => String(err.status)));
  return outcomes;
}

function rewind(proxy: TestProxy, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${proxy.url}/_proxy/rewind`, { method: 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

for (const policy of ['repeat', 'strict'] as ReplayPolicy[]) {
  test(`the same suite twice against one replay process gets the same answers with a rewind between (${policy})`, async (t) => {
    const { dir, key } = await recordOkThenUnauthorized(t);
    const player = await startTestProxy(t, { mode: 'replay', upstream: new URL('http://127.0.0.1:9'), cassetteDir: dir, replayPolicy: policy, lockMode: true });
    const client = player.client(key);
    assert.deepEqual(await suite(client), ['200', '401']);
    // Without a rewind the counters carry over: repeat answers the last recording, strict has none left.
    assert.deepEqual(await suite(client), policy === 'repeat' ? ['401', '401'] : ['404', '404']);
    const res = await rewind(player, {});
    assert.equal(res.status, 200, 'allowed under --lock-mode: it is not a mode change');
    assert.deepEqual(((await res.json()) as { rewound: string[] }).rewound.map((f) => f.endsWith('default.yaml')), [true]);
    assert.deepEqual(await suite(client), ['200', '401']);
    assert.equal((await rewind(player)).status, 200, 'an empty body rewinds every cassette');
    assert.deepEqual(await suite(client), ['200', '401']);
  });
}

test('a rewind of one cassette leaves the others where they are; it is guarded like other changes', async (t) => {
  const { dir, key } = await recordOkThenUnauthorized(t);
  const token = 'rewind-admin-token';
  const player = await startTestProxy(t, { mode: 'replay', upstream: new URL('http://127.0.0.1:9'), cassetteDir: dir, adminToken: token });
  const other = new OpenAI({ apiKey: key, baseURL: player.baseURL, maxRetries: 0, defaultHeaders: { 'x-cassette': 'default' } });
  await suite(player.client(key));
  await suite(other);
  assert.equal((await rewind(player, {})).status, 401, 'needs the admin token');
  assert.equal((await rewind(player, {}, { authorization: `Bearer ${token}`, origin: 'https://attacker.example' })).status, 403, 'never from a web page');
  const bad = await rewind(player, { cassette: '../out' }, { authorization: `Bearer ${token}` });
  assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'invalid_cassette_name');
  const none = await rewind(player, { cassette: 'never-loaded' }, { authorization: `Bearer ${token}` });
  assert.deepEqual(await none.json(), { rewound: [] });
  const one = await rewind(player, { cassette: 'default' }, { authorization: `Bearer ${token}` });
  assert.equal(((await one.json()) as { rewound: string[] }).rewound.length, 1);
  assert.deepEqual(await suite(player.client(key)), ['200', '401']);
});

test('the library rewinds too', async (t) => {
  const { dir, key } = await recordOkThenUnauthorized(t);
  const proxy = await startProxy({ mode: 'replay', port: 0, cassetteDir: dir, logLevel: 'silent', replayPolicy: 'strict' });
  t.after(() => proxy.close());
  const client = new OpenAI({ apiKey: key, baseURL: `${proxy.url}/v1`, maxRetries: 0 });
  assert.deepEqual(await suite(client), ['200', '401']);
  assert.equal((await proxy.rewind()).length, 1);
  assert.deepEqual(await suite(client), ['200', '401']);
});
