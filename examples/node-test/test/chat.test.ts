/**
 * A node:test suite behind cassette-proxy. Run it once with a real key (`npm test`): requests that
 * are not in cassettes/chat.yaml yet are recorded. Commit the cassette; in CI (`CI=true npm test`)
 * every answer comes from it, no key is needed and nothing reaches OpenAI.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { startProxy, type CassetteProxy } from 'cassette-proxy';

let proxy: CassetteProxy;

before(async () => {
  proxy = await startProxy({
    mode: process.env.CI ? 'replay' : 'replay-or-record',
    cassetteDir: 'cassettes',
    cassette: 'chat',
    port: 0,
    logLevel: 'warn',
    // Where to record from: OpenAI itself unless told otherwise.
    upstream: process.env.OPENAI_UPSTREAM ?? 'https://api.openai.com',
  });
});

after(() => proxy.close());

function client(): OpenAI {
  // In replay the key is never checked: recordings hold no credential.
  return new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: process.env.OPENAI_API_KEY ?? 'replay-needs-no-key', maxRetries: 0 });
}

test('answers a question', async () => {
  const completion = await client().chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Say hello in one word.' }],
  });
  assert.ok(completion.choices[0]?.message.content);
});

test('a proxy of its own with `await using`: closed (and saved) when the block ends', async () => {
  await using own = await startProxy({
    mode: process.env.CI ? 'replay' : 'replay-or-record',
    cassetteDir: 'cassettes',
    cassette: 'models',
    port: 0,
    logLevel: 'warn',
    upstream: process.env.OPENAI_UPSTREAM ?? 'https://api.openai.com',
  });
  const models = new OpenAI({ baseURL: `${own.url}/v1`, apiKey: process.env.OPENAI_API_KEY ?? 'replay-needs-no-key', maxRetries: 0 });
  const page = await models.models.list();
  assert.ok(page.data.length > 0);
});
