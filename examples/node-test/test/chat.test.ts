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

/**
 * In CI every answer comes from `cassettes/<cassette>.yaml`; locally, what is not recorded yet is
 * recorded from OpenAI (or OPENAI_UPSTREAM).
 */
function startFor(cassette: string): Promise<CassetteProxy> {
  return startProxy({
    mode: process.env.CI ? 'replay' : 'replay-or-record',
    cassetteDir: 'cassettes',
    cassette,
    port: 0,
    logLevel: 'warn',
    upstream: process.env.OPENAI_UPSTREAM ?? 'https://api.openai.com',
  });
}

/** In replay the key is never checked: recordings hold no credential. */
function clientOf(running: CassetteProxy): OpenAI {
  return new OpenAI({ baseURL: `${running.url}/v1`, apiKey: process.env.OPENAI_API_KEY ?? 'replay-needs-no-key', maxRetries: 0 });
}

before(async () => {
  proxy = await startFor('chat');
});

after(() => proxy.close());

test('answers a question', async () => {
  const completion = await clientOf(proxy).chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Say hello in one word.' }],
  });
  assert.ok(completion.choices[0]?.message.content);
});

test('a proxy of its own with `await using`: closed (and saved) when the block ends', async () => {
  await using own = await startFor('models');
  const models = clientOf(own);
  const page = await models.models.list();
  assert.ok(page.data.length > 0);
});
