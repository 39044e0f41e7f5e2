/**
 * Drift: a recording whose prompt holds yesterday's date replays to today's request under
 * --match-normalize, and fields that cannot change the answer (prompt_cache_key, safety_identifier,
 * ...) are left out of matching unless --match-builtin-ignore is false. Official client, record in
 * one proxy, replay in another.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import OpenAI from 'openai';
import { FakeUpstream, makeTestKey } from '../support/fake-upstream.js';
import { cassetteWith, startTestProxy } from '../support/proxy.js';
import type { Config } from '../../src/config.js';

const day = (offset: number): string => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

const ask = (client: OpenAI, date: string, extra: Partial<OpenAI.Chat.ChatCompletionCreateParamsNonStreaming> = {}) =>
  client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Today is ${date}. Plan my day.` }], ...extra });

/** Records one request and answers a replay proxy over that cassette with `overrides`. */
async function recordThenReplay(t: TestContext, recorded: Parameters<typeof ask>[2], overrides: Partial<Config>) {
  const key = makeTestKey();
  const upstream = await FakeUpstream.start({ apiKey: key });
  t.after(() => upstream.close());
  const recorder = await startTestProxy(t, { upstream: new URL(upstream.url) });
  const original = await ask(recorder.client(key), day(-1), recorded);
  await cassetteWith(recorder, 1);
  const player = await startTestProxy(t, { mode: 'replay', upstream: new URL('http://127.0.0.1:9'), cassetteDir: recorder.dir, ...overrides });
  return { original, client: player.client(key) };
}

test("a recording whose prompt holds yesterday's date replays to today's request under --match-normalize, and misses without it", async (t) => {
  const normalizing = await recordThenReplay(t, {}, { matchNormalize: [/\d{4}-\d{2}-\d{2}/g] });
  assert.equal((await ask(normalizing.client, day(0))).id, normalizing.original.id);
  await assert.rejects(ask(normalizing.client, 'someday'), OpenAI.NotFoundError, 'only the matches are normalised');

  const plain = await recordThenReplay(t, {}, {});
  await assert.rejects(ask(plain.client, day(0)), (err) => err instanceof OpenAI.NotFoundError && /cassette_miss|no recording/.test(err.message));
  assert.equal((await ask(plain.client, day(-1))).id, plain.original.id);
});

test('prompt_cache_key, safety_identifier, user and stream_options.include_obfuscation are left out of matching by default; --match-builtin-ignore false makes them count', async (t) => {
  const recorded = { prompt_cache_key: 'run-1', safety_identifier: 'tester-1', user: 'u-1' };
  const drifted = { prompt_cache_key: 'run-2', safety_identifier: 'tester-2', user: 'u-2' };
  const byDefault = await recordThenReplay(t, recorded, {});
  assert.equal((await ask(byDefault.client, day(-1), drifted)).id, byDefault.original.id);
  assert.equal((await ask(byDefault.client, day(-1))).id, byDefault.original.id, 'left out, so absent fields match too');

  const stream = (client: OpenAI, options: OpenAI.Chat.ChatCompletionStreamOptions) =>
    client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Stream it.' }], stream: true, stream_options: options });
  const key = makeTestKey();
  const upstream = await FakeUpstream.start({ apiKey: key });
  t.after(() => upstream.close());
  const recorder = await startTestProxy(t, { upstream: new URL(upstream.url) });
  for await (const chunk of await stream(recorder.client(key), { include_usage: true })) void chunk;
  await cassetteWith(recorder, 1);
  const player = await startTestProxy(t, { mode: 'replay', upstream: new URL('http://127.0.0.1:9'), cassetteDir: recorder.dir });
  let chunks = 0;
  for await (const chunk of await stream(player.client(key), { include_usage: true, include_obfuscation: false })) chunks += chunk ? 1 : 0;
  assert.ok(chunks > 0, 'stream_options.include_obfuscation does not count either');

  const matching = await recordThenReplay(t, recorded, { matchBuiltinIgnore: false });
  await assert.rejects(ask(matching.client, day(-1), drifted), OpenAI.NotFoundError);
  assert.equal((await ask(matching.client, day(-1), recorded)).id, matching.original.id);
});
