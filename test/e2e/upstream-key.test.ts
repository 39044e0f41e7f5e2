/** --upstream-key: the proxy sends the key from its environment the way each provider wants it; the app's dummy never reaches the upstream, and the key reaches no file and no log line. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import OpenAI from 'openai';
import type { UpstreamSetting } from '../../src/config.js';
import { FakeUpstream, makeTestKey } from '../support/fake-upstream.js';
import { capturedLog } from '../support/log.js';
import { allFiles, cassetteWith, startTestProxy } from '../support/proxy.js';

test('the upstream gets the key from the environment in place of the dummy the app sent; disk and logs never hold it; replay needs none', async (t) => {
  const key = makeTestKey();
  const geminiKey = `gm-${makeTestKey().slice(8)}`;
  process.env.PROVIDERS_E2E_OPENAI_KEY = key;
  process.env.PROVIDERS_E2E_GEMINI_KEY = geminiKey;
  t.after(() => {
    delete process.env.PROVIDERS_E2E_OPENAI_KEY;
    delete process.env.PROVIDERS_E2E_GEMINI_KEY;
  });
  // The fake answers 401 to any other key than the one in the proxy's environment.
  const fake = await FakeUpstream.start({ apiKey: key });
  const echo = await FakeUpstream.start();
  t.after(() => Promise.all([fake.close(), echo.close()]));
  const upstreams: UpstreamSetting[] = [
    { name: 'openai', url: new URL(fake.url), prefixed: false, keyVariable: 'PROVIDERS_E2E_OPENAI_KEY' },
    { name: 'gem', url: new URL(echo.url), prefixed: true, provider: 'gemini', keyVariable: 'PROVIDERS_E2E_GEMINI_KEY' },
  ];
  const captured = capturedLog();
  const proxy = await startTestProxy(t, { upstream: upstreams[0]!.url, upstreams }, captured.log);
  const app = new OpenAI({ apiKey: 'dummy', baseURL: `${proxy.url}/v1`, maxRetries: 0 });
  const answer = await app.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(answer.object, 'chat.completion');
  assert.equal(fake.requests[0]!.headers.authorization, `Bearer ${key}`);

  // Gemini's key goes in x-goog-api-key; a ?key= the app sent is taken off. The upstream echoes
  // the key back in its answer: redaction masks it there too.
  const echoed = await fetch(`${proxy.url}/gem/v1/echo?alt=sse&key=dummy-key`, { method: 'POST', headers: { 'x-goog-api-key': 'dummy', 'content-type': 'application/json' }, body: '{}' });
  assert.equal(echoed.status, 200);
  assert.ok((await echoed.text()).includes(geminiKey), 'the client gets the upstream answer unchanged');
  assert.equal(echo.requests[0]!.url, '/v1/echo?alt=sse');
  assert.equal(echo.requests[0]!.headers['x-goog-api-key'], geminiKey);

  await cassetteWith(proxy, 2);
  for (const { file, bytes } of await allFiles(proxy.dir)) {
    assert.ok(!bytes.includes(key), `${file} holds the OpenAI key`);
    assert.ok(!bytes.includes(geminiKey), `${file} holds the Gemini key`);
  }
  assert.ok(!captured.text().includes(key) && !captured.text().includes(geminiKey), 'a log line holds a key');

  // Replay: no key in the proxy's environment, the app's dummy, the same answer.
  const replay = await startTestProxy(t, { mode: 'replay', upstream: upstreams[0]!.url, upstreams: upstreams.map(({ keyVariable: _, ...u }) => u), cassetteDir: proxy.dir });
  const replayed = await new OpenAI({ apiKey: 'dummy', baseURL: `${replay.url}/v1`, maxRetries: 0 }).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(replayed.id, answer.id);
  assert.equal(fake.requests.length, 1);
});
