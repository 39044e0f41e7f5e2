/** --redact-body-field: prompts with personal data never reach the cassette, and the cassette still replays. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import type OpenAI from 'openai';
import { parseJsonPath, type JsonPath } from '../../src/json-path.js';
import { FakeUpstream, SEED_TURN_ONE_REQUEST } from '../support/fake-upstream.js';
import { cassetteWith, startTestProxy } from '../support/proxy.js';

const contents = [parseJsonPath('messages[*].content') as JsonPath];

async function ask(client: OpenAI, question: string): Promise<string> {
  const body = structuredClone(SEED_TURN_ONE_REQUEST) as { messages: { content: string }[] };
  body.messages[1]!.content = question;
  const stream = await client.chat.completions.create({ ...body, stream: true } as unknown as OpenAI.ChatCompletionCreateParamsStreaming);
  let name = '';
  for await (const chunk of stream) name += chunk.choices[0]?.delta?.tool_calls?.[0]?.function?.name ?? '';
  return name;
}

test('a cassette recorded with --redact-body-field messages[*].content holds no prompt text and still replays the same requests', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const recorder = await startTestProxy(t, { upstream: new URL(upstream.url), redactBodyFields: contents });
  const question = 'My name is Ada Lovelace and my card is 4111-1111-1111-1111. What is 15 + 27?';
  assert.equal(await ask(recorder.client('k'), question), 'add');
  assert.ok(upstream.requests[0]!.body.toString().includes('Ada Lovelace'), 'the upstream got the real prompt');

  const cassette = await cassetteWith(recorder, 1);
  const text = await readFile(recorder.defaultCassette, 'utf8');
  for (const secret of ['Ada Lovelace', '4111-1111', 'helpful assistant']) assert.ok(!text.includes(secret), `${secret} is not in the cassette`);
  const recorded = JSON.parse(cassette.interactions[0].request.body);
  assert.deepEqual(recorded.messages.map((m: { content: string }) => m.content), ['[REDACTED]', '[REDACTED]']);
  assert.equal(recorded.model, 'gpt-4o-mini', 'other fields are kept');

  const player = await startTestProxy(t, { mode: 'replay', upstream: new URL('http://127.0.0.1:9'), cassetteDir: recorder.dir, redactBodyFields: contents });
  assert.equal(await ask(player.client('k'), question), 'add');
  assert.equal(await ask(player.client('k'), 'Another prompt entirely'), 'add', 'the redacted field takes no part in matching');

  const unredacted = await startTestProxy(t, { mode: 'replay', upstream: new URL('http://127.0.0.1:9'), cassetteDir: recorder.dir });
  await assert.rejects(ask(unredacted.client('k'), question), (err: any) => err.status === 404 && /body\.messages\[0\]\.content: recorded "\[REDACTED\]"/.test(err.message));
});
