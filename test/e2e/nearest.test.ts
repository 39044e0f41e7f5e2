/**
 * `--on-miss nearest` with the official openai client: a replay miss within --nearest-max-diffs
 * gets its nearest recording and says so (x-cassette-match, a warning, a metric); beyond the limit,
 * the usual miss. Exact hits say `x-cassette-match: exact`.
 */
import assert from 'node:assert/strict';
import { copyFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import OpenAI from 'openai';
import { cassetteText, serializeInteraction } from '../../src/cassette/codec.js';
import type { Interaction } from '../../src/cassette/types.js';
import type { Config } from '../../src/config.js';
import { FakeUpstream, SEED_TURN_ONE_REQUEST, makeTestKey } from '../support/fake-upstream.js';
import { capturedLog } from '../support/log.js';
import { fixture } from '../support/paths.js';
import { cassetteWith, startTestProxy, type TestProxy } from '../support/proxy.js';

async function deadUpstream(): Promise<URL> {
  const fake = await FakeUpstream.start();
  await fake.close();
  return new URL(fake.url);
}

async function nearestProxy(t: TestContext, overrides: Partial<Config> = {}, log = capturedLog()): Promise<TestProxy> {
  return startTestProxy(t, { mode: 'replay', upstream: await deadUpstream(), onMiss: 'nearest', ...overrides }, log.log);
}

/** The seed's first turn with another question: one field differs from interaction 0. */
const OTHER_QUESTION = {
  ...SEED_TURN_ONE_REQUEST,
  messages: [(SEED_TURN_ONE_REQUEST.messages as unknown[])[0], { role: 'user', content: 'What is 2 + 2?' }],
} as unknown as OpenAI.ChatCompletionCreateParamsStreaming;

async function drain(stream: AsyncIterable<OpenAI.ChatCompletionChunk>): Promise<string> {
  let name = '';
  for await (const chunk of stream) for (const call of chunk.choices[0]?.delta?.tool_calls ?? []) name += call.function?.name ?? '';
  return name;
}

/** A non-streaming recording of `question`, answered `Answer <id>`. */
function recording(id: number, question: string): Interaction {
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: question }] });
  const answer = JSON.stringify({
    id: `chatcmpl-${id}`,
    object: 'chat.completion',
    created: 1,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, message: { role: 'assistant', content: `Answer ${id}` }, finish_reason: 'stop' }],
  });
  return {
    id,
    request: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: body.length, host: 'api.openai.com', body, headers: { 'Content-Type': ['application/json'] }, url: 'https://api.openai.com/v1/chat/completions', method: 'POST' },
    response: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: -1, body: answer, headers: { 'Content-Type': ['application/json'] }, status: '200 OK', code: 200, duration: '1ms' },
  };
}

async function writeCassette(proxy: TestProxy, name: string, interactions: Interaction[]): Promise<void> {
  await writeFile(path.join(proxy.dir, `${name}.yaml`), cassetteText(interactions.map((i) => serializeInteraction(i))));
}

/** Asks `question`; answers the content and the x-cassette-match header. */
async function ask(client: OpenAI, question: string): Promise<{ content: string | null | undefined; match: string | null }> {
  const { data, response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: question }] }).withResponse();
  return { content: data.choices[0]?.message.content, match: response.headers.get('x-cassette-match') };
}

test('--on-miss nearest answers a request that differs in one field with the nearest recording, says so in x-cassette-match, a warning and a metric', async (t) => {
  const log = capturedLog();
  const proxy = await nearestProxy(t, {}, log);
  await copyFile(fixture('seed.yaml'), path.join(proxy.dir, 'seed.yaml'));
  const client = proxy.client(makeTestKey(), { cassette: 'seed' });

  const { data, response } = await client.chat.completions.create(OTHER_QUESTION).withResponse();
  assert.equal(response.headers.get('x-cassette-match'), 'nearest; interaction=0; diffs=1');
  assert.equal(await drain(data), 'add', 'the recorded tool call streams back');

  const exact = await client.chat.completions.create(SEED_TURN_ONE_REQUEST as unknown as OpenAI.ChatCompletionCreateParamsStreaming).withResponse();
  assert.equal(exact.response.headers.get('x-cassette-match'), 'exact');
  await drain(exact.data);

  const metrics = await (await fetch(`${proxy.url}/_proxy/metrics`)).text();
  assert.match(metrics, /^cassette_proxy_nearest_answers_total 1$/m);
  assert.match(metrics, /^cassette_proxy_exchanges_total\{mode="replay",outcome="replayed",upstream="openai"\} 2$/m);
  const warned = log.lines().filter((line) => line.level === 40);
  assert.equal(warned.length, 1, 'one warning, for the nearest answer');
  assert.equal(warned[0]!.msg, 'no recording matches: answered with the nearest');
  assert.deepEqual(warned[0]!.nearest, {
    interaction: 0,
    diffs: 1,
    differences: ['body.messages[1].content: recorded "What is 15 + 27?", got "What is 2 + 2?"'],
  });
});

test('a request differing in more fields than --nearest-max-diffs gets the usual miss', async (t) => {
  const proxy = await nearestProxy(t, { nearestMaxDiffs: 1 });
  await copyFile(fixture('seed.yaml'), path.join(proxy.dir, 'seed.yaml'));
  const client = proxy.client(makeTestKey(), { cassette: 'seed' });

  await assert.rejects(client.chat.completions.create({ ...OTHER_QUESTION, model: 'gpt-4o' }), (err: unknown) => {
    assert.ok(err instanceof OpenAI.NotFoundError);
    assert.equal(err.code, 'cassette_miss');
    assert.match(err.message, /differs in 2 fields/);
    return true;
  });
  const metrics = await (await fetch(`${proxy.url}/_proxy/metrics`)).text();
  assert.match(metrics, /^cassette_proxy_nearest_answers_total 0$/m);
});

test('--on-miss error (the default): a miss is a 404, and an exact hit still says x-cassette-match: exact', async (t) => {
  const proxy = await nearestProxy(t, { onMiss: 'error' });
  await copyFile(fixture('seed.yaml'), path.join(proxy.dir, 'seed.yaml'));
  const client = proxy.client(makeTestKey(), { cassette: 'seed' });
  await assert.rejects(client.chat.completions.create(OTHER_QUESTION), (err: unknown) => err instanceof OpenAI.NotFoundError && err.code === 'cassette_miss');
  const exact = await client.chat.completions.create(SEED_TURN_ONE_REQUEST as unknown as OpenAI.ChatCompletionCreateParamsStreaming).withResponse();
  assert.equal(exact.response.headers.get('x-cassette-match'), 'exact');
  await drain(exact.data);
});

test('nearest candidates that tie: the recording at the request\'s own position in the sequence', async (t) => {
  const proxy = await nearestProxy(t);
  await writeCassette(proxy, 'suite', [recording(0, 'Question 0'), recording(1, 'Question 1'), recording(2, 'Question 2')]);
  const client = proxy.client(makeTestKey(), { cassette: 'suite' });

  assert.deepEqual(await ask(client, 'Question 0'), { content: 'Answer 0', match: 'exact' });
  // Each differs from all three recordings in one field: the second request's own is 1, the third's 2.
  assert.deepEqual(await ask(client, 'Question 1, reworded'), { content: 'Answer 1', match: 'nearest; interaction=1; diffs=1' });
  assert.deepEqual(await ask(client, 'Question 2, reworded'), { content: 'Answer 2', match: 'nearest; interaction=2; diffs=1' });
  // Past the recordings: no own position, the earliest.
  assert.deepEqual(await ask(client, 'Question 3'), { content: 'Answer 0', match: 'nearest; interaction=0; diffs=1' });
  assert.deepEqual(proxy.cassettes()[0]!.never_replayed_ids, [], 'a nearest answer counts as replayed');

  await proxy.rewind('suite');
  assert.deepEqual(await ask(client, 'Question 0'), { content: 'Answer 0', match: 'exact' });
  assert.deepEqual(await ask(client, 'Question 1, reworded'), { content: 'Answer 1', match: 'nearest; interaction=1; diffs=1' }, 'rewound: positions count from the start again');
});

test('strict: a nearest answer does not use up the recording its own request gets', async (t) => {
  const proxy = await nearestProxy(t, { replayPolicy: 'strict' });
  await writeCassette(proxy, 'suite', [recording(0, 'Question 0')]);
  const client = proxy.client(makeTestKey(), { cassette: 'suite' });
  assert.deepEqual(await ask(client, 'Question 0, reworded'), { content: 'Answer 0', match: 'nearest; interaction=0; diffs=1' });
  assert.deepEqual(await ask(client, 'Question 0'), { content: 'Answer 0', match: 'exact' });
  // Used up: that is no miss, so no nearest answers it.
  await assert.rejects(ask(client, 'Question 0'), (err: unknown) => err instanceof OpenAI.NotFoundError && /already used/.test(err.message));
});

test('the nearest comes from the request\'s own x-cassette, even when another cassette holds an exact match', async (t) => {
  const proxy = await nearestProxy(t);
  await writeCassette(proxy, 'mine', [recording(0, 'Question A')]);
  await writeCassette(proxy, 'theirs', [recording(0, 'Question B')]);
  const mine = proxy.client(makeTestKey(), { cassette: 'mine' });
  assert.deepEqual(await ask(mine, 'Question B'), { content: 'Answer 0', match: 'nearest; interaction=0; diffs=1' });
  assert.deepEqual(await ask(proxy.client(makeTestKey(), { cassette: 'theirs' }), 'Question B'), { content: 'Answer 0', match: 'exact' });
});

test('a recorded x-cassette-match (recorded through another cassette-proxy) is not replayed: the answer carries this proxy\'s only', async (t) => {
  const proxy = await nearestProxy(t);
  const chained = recording(0, 'Question 0');
  chained.response.headers['X-Cassette-Match'] = ['nearest; interaction=7; diffs=2'];
  await writeCassette(proxy, 'suite', [chained]);
  assert.deepEqual(await ask(proxy.client(makeTestKey(), { cassette: 'suite' }), 'Question 0'), { content: 'Answer 0', match: 'exact' });
});

test('replay-or-record with --on-miss nearest: a miss is still forwarded and recorded, and carries no x-cassette-match', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const proxy = await startTestProxy(t, { mode: 'replay-or-record', upstream: new URL(upstream.url), onMiss: 'nearest' });
  await writeCassette(proxy, 'suite', [recording(0, 'Question 0')]);
  const client = proxy.client(makeTestKey(), { cassette: 'suite' });
  const { match } = await ask(client, 'Question 0, reworded');
  assert.equal(match, null);
  assert.equal(upstream.requests.length, 1);
  const saved = await cassetteWith(proxy, 2, path.join(proxy.dir, 'suite.yaml'));
  assert.ok(!JSON.stringify(saved.interactions[1].response.headers).toLowerCase().includes('x-cassette-match'), 'never recorded');
});
