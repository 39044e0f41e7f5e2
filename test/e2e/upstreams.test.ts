import assert from 'node:assert/strict';
import { test } from 'node:test';
import OpenAI from 'openai';
import { FakeUpstream } from '../support/fake-upstream.js';
import { capturedLog } from '../support/log.js';
import { cassetteWith, startTestProxy } from '../support/proxy.js';
import { eventually } from '../support/wait.js';

async function fakes(t: import('node:test').TestContext, count: number): Promise<FakeUpstream[]> {
  const started = await Promise.all(Array.from({ length: count }, () => FakeUpstream.start()));
  t.after(() => Promise.all(started.map((f) => f.close())));
  return started;
}

const client = (baseURL: string, cassette?: string) => new OpenAI({ apiKey: 'sk-test', baseURL, maxRetries: 0, defaultHeaders: cassette ? { 'x-cassette': cassette } : {} });

test('a path prefix /NAME/ routes to that upstream with the prefix removed; other paths go to the default', async (t) => {
  const [main, other] = await fakes(t, 2);
  const captured = capturedLog();
  const upstreams = [
    { name: 'openai', url: new URL(main!.url), prefixed: false },
    { name: 'router', url: new URL(other!.url), prefixed: true },
  ];
  const proxy = await startTestProxy(t, { upstream: upstreams[0]!.url, upstreams }, captured.log);
  const direct = await client(`${proxy.url}/v1`).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  const routed = await client(`${proxy.url}/router/v1`, 'routed').chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(direct.choices[0]!.message.content, routed.choices[0]!.message.content);
  assert.deepEqual(main!.requests.map((r) => r.url), ['/v1/chat/completions']);
  assert.deepEqual(other!.requests.map((r) => r.url), ['/v1/chat/completions']);

  // The cassette records the real upstream URL, as go-vcr would.
  const cassette = await cassetteWith(proxy, 1, `${proxy.dir}/routed.yaml`);
  assert.equal(cassette.interactions[0].request.url, `${other!.url}/v1/chat/completions`);
  const exchanges = await eventually(() => {
    const lines = captured.lines().filter((l) => l.msg === 'exchange');
    assert.equal(lines.length, 2);
    return lines;
  });
  assert.deepEqual(exchanges.map((l) => [l.upstream, l.path]), [
    ['openai', '/v1/chat/completions'],
    ['router', '/v1/chat/completions'],
  ]);
  const metrics = await (await fetch(`${proxy.url}/_proxy/metrics`)).text();
  assert.match(metrics, /cassette_proxy_exchanges_total\{mode="record",outcome="recorded",upstream="router"\} 1/);
  assert.match(metrics, /cassette_proxy_exchanges_total\{mode="record",outcome="recorded",upstream="openai"\} 1/);

  // Replay, per request, below the prefix: no upstream is contacted.
  await proxy.switchTo({ mode: 'replay' });
  const replayed = await client(`${proxy.url}/router/v1`, 'routed').chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(replayed.id, routed.id);
  assert.equal(other!.requests.length, 1);
  // Rewind and the admin API are the proxy's own, not an upstream's, whatever the prefix.
  assert.equal((await fetch(`${proxy.url}/router/_proxy/mode`)).status, 404);
  assert.equal(main!.requests.length + other!.requests.length, 2);
});
