/**
 * Redacted values still take part in matching: a prompt under --redact-body-field, or a key under
 * --match-header Authorization, is a keyed digest on disk, so the same value hits and another one
 * misses, while no plaintext (a quote of the prompt in the answer included) reaches a file.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import type OpenAI from 'openai';
import type { Config } from '../../src/config.js';
import { parseJsonPath, type JsonPath } from '../../src/json-path.js';
import { digestMarker } from '../../src/redact/marker.js';
import { splitEvents } from '../../src/sse.js';
import { FakeUpstream, makeTestKey } from '../support/fake-upstream.js';
import { allFiles, cassetteWith, startTestProxy } from '../support/proxy.js';

const contents = [parseJsonPath('messages[*].content') as JsonPath];
const SYSTEM = 'You are the assistant of Jane Doe, who lives in Crescent Road.';
/** The fake upstream quotes a prompt that starts with `quote:` whole: in a stream, a word per event. */
const STREAMED = 'quote:My name is Ada Lovelace and my card is 4111-1111-1111-1111. What is 15 + 27?';
const ANSWERED = 'quote:Please remember my passport number X1234567 for the trip.';
/** Words of the prompts that must be nowhere on disk (a stream holds the quote one word per event). */
const PRIVATE_WORDS = ['Jane', 'Crescent', 'Lovelace', '4111', 'passport', 'X1234567'];
const DIGEST = /\[REDACTED:hmac-sha256:[0-9a-f]{16}\]/;

const messages = (prompt: string): OpenAI.ChatCompletionMessageParam[] => [
  { role: 'system', content: SYSTEM },
  { role: 'user', content: prompt },
];

async function streamed(client: OpenAI, prompt: string): Promise<string> {
  let text = '';
  for await (const chunk of await client.chat.completions.create({ model: 'gpt-4o-mini', messages: messages(prompt), stream: true })) text += chunk.choices[0]?.delta?.content ?? '';
  return text;
}

async function answered(client: OpenAI, prompt: string): Promise<string> {
  return (await client.chat.completions.create({ model: 'gpt-4o-mini', messages: messages(prompt) })).choices[0]!.message.content ?? '';
}

/** The config of a replaying proxy over `dir`. */
const replayer = (dir: string, config: Partial<Config> = {}): Partial<Config> & { upstream: URL } => ({ mode: 'replay', upstream: new URL('http://127.0.0.1:9'), cassetteDir: dir, ...config });

test('under --redact-body-field messages[*].content the same prompt hits, another misses, and no prompt text is in any file (the quoted prompt masked in JSON and SSE)', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const recorder = await startTestProxy(t, { upstream: new URL(upstream.url), redactBodyFields: contents });
  const client = recorder.client('k');
  const live = [await streamed(client, STREAMED), await answered(client, ANSWERED)];
  // The client gets the answer as the upstream sent it: only the saved copy is masked.
  assert.equal(live[0], `You said: "${STREAMED}". Noted.`);
  assert.equal(live[1], `You said: "${ANSWERED}". Noted.`);

  const cassette = await cassetteWith(recorder, 2);
  for (const { file, bytes } of await allFiles(recorder.dir)) {
    for (const word of PRIVATE_WORDS) assert.equal(bytes.indexOf(word), -1, `${file} holds "${word}"`);
  }
  const [stream, json] = cassette.interactions;
  assert.deepEqual(JSON.parse(stream.request.body).messages.map((m: { content: string }) => m.content), [SYSTEM, STREAMED].map(digestMarker()));
  assert.equal(JSON.parse(stream.request.body).model, 'gpt-4o-mini', 'other fields are kept');
  const mark = digestMarker()(STREAMED);
  const quoted = splitEvents(Buffer.from(stream.response.body))
    .map((event) => /^data: (\{.*\})$/m.exec(Buffer.from(event).toString())?.[1])
    .map((data) => (data ? JSON.parse(data).choices[0].delta.content ?? '' : ''))
    .join('');
  assert.equal(quoted, `You said: "${mark}". Noted.`, 'the quote spelled across events is one marker, the prompt\'s own');
  assert.equal(stream.cassette_proxy.event_offsets_ms.length, splitEvents(Buffer.from(stream.response.body)).length, 'one offset per event still');
  assert.equal(JSON.parse(json.response.body).choices[0].message.content, `You said: "${digestMarker()(ANSWERED)}". Noted.`);
  assert.equal(json.response.content_length, Buffer.byteLength(json.response.body), 'the length is the masked body\'s');

  const player = await startTestProxy(t, replayer(recorder.dir, { redactBodyFields: contents }));
  const again = player.client('k');
  assert.equal(await streamed(again, STREAMED), `You said: "${mark}". Noted.`, 'the same prompt hits');
  assert.equal(await answered(again, ANSWERED), `You said: "${digestMarker()(ANSWERED)}". Noted.`);
  const other = 'quote:My name is Grace Hopper. What is 15 + 27?';
  await assert.rejects(streamed(again, other), (err: any) => {
    assert.equal(err.status, 404);
    assert.match(err.message, new RegExp(`body\\.messages\\[1\\]\\.content: recorded "${DIGEST.source}", got "${DIGEST.source}"`));
    assert.ok(!err.message.includes('Grace Hopper'), 'the miss shows the digest, not the prompt');
    return true;
  });

  // Replay needs the flags recording had: without it the prompt is compared as sent, and misses.
  const unredacted = await startTestProxy(t, replayer(recorder.dir));
  await assert.rejects(answered(unredacted.client('k'), ANSWERED), (err: any) => err.status === 404 && /body\.messages\[1\]\.content: recorded "\[REDACTED:[^"]+\]", got "quote:Please/.test(err.message));
});

test('--match-header Authorization: the key is a digest on disk, and another key misses while the same one hits', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const [key, otherKey] = [makeTestKey(), makeTestKey()];
  const recorder = await startTestProxy(t, { upstream: new URL(upstream.url) });
  await answered(recorder.client(key), 'What is 15 + 27?');
  const cassette = await cassetteWith(recorder, 1);
  assert.deepEqual(cassette.interactions[0].request.headers.Authorization, [`Bearer ${digestMarker()(key)}`]);
  assert.ok(!(await readFile(recorder.defaultCassette, 'utf8')).includes(key));

  const player = await startTestProxy(t, replayer(recorder.dir, { matchHeaders: ['Authorization'] }));
  assert.equal(await answered(player.client(key), 'What is 15 + 27?'), 'Hello! How can I help you today?');
  await assert.rejects(answered(player.client(otherKey), 'What is 15 + 27?'), (err: any) => {
    assert.equal(err.status, 404);
    assert.match(err.message, /authorization/i, err.message);
    assert.ok(!err.message.includes(otherKey) && !err.message.includes(key));
    return true;
  });
});

test('a cassette recorded before digests (bare [REDACTED] markers) still replays: a bare marker matches any value', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const recorder = await startTestProxy(t, { upstream: new URL(upstream.url), redactBodyFields: contents });
  await answered(recorder.client(makeTestKey()), 'What is 15 + 27?');
  await cassetteWith(recorder, 1);
  const config = { redactBodyFields: contents, matchHeaders: ['Authorization'] };
  const before = await startTestProxy(t, replayer(recorder.dir, config));
  await assert.rejects(answered(before.client(makeTestKey()), 'Another prompt'), (err: any) => err.status === 404, 'with digests, another prompt and key miss');

  // What earlier versions wrote: the same cassette with bare markers.
  const text = await readFile(recorder.defaultCassette, 'utf8');
  const legacyText = text.replace(new RegExp(`Bearer ${DIGEST.source}`, 'g'), '[REDACTED]').replace(new RegExp(DIGEST.source, 'g'), '[REDACTED]');
  assert.match(legacyText, /Authorization:\n\s+- '\[REDACTED\]'/);
  await writeFile(recorder.defaultCassette, legacyText);
  const legacy = await startTestProxy(t, replayer(recorder.dir, config));
  assert.equal(await answered(legacy.client(makeTestKey()), 'Another prompt'), 'Hello! How can I help you today?');
});

test('--redact-key: digests under a team key differ from the public default ones, replay needs the same key, and the key is in no file', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const redactKey = `team-key-${makeTestKey().slice(-24)}`;
  const recorder = await startTestProxy(t, { upstream: new URL(upstream.url), redactBodyFields: contents, redactKey });
  await answered(recorder.client('k'), ANSWERED);
  const cassette = await cassetteWith(recorder, 1);
  const recorded = JSON.parse(cassette.interactions[0].request.body).messages[1].content;
  assert.equal(recorded, digestMarker(redactKey)(ANSWERED));
  assert.notEqual(recorded, digestMarker()(ANSWERED));
  for (const { file, bytes } of await allFiles(recorder.dir)) assert.equal(bytes.indexOf(redactKey), -1, file);

  const same = await startTestProxy(t, replayer(recorder.dir, { redactBodyFields: contents, redactKey }));
  assert.match(await answered(same.client('k'), ANSWERED), /^You said: "\[REDACTED:hmac-sha256:/);
  const without = await startTestProxy(t, replayer(recorder.dir, { redactBodyFields: contents }));
  await assert.rejects(answered(without.client('k'), ANSWERED), (err: any) => err.status === 404);
});
