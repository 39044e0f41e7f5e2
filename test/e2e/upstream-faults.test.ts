/**
 * Upstream faults: each gives the client a clear answer, is never saved as if complete, and leaves
 * the proxy serving the next request.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { FakeUpstream } from '../support/fake-upstream.js';
import { tempDir } from '../support/paths.js';
import { cassetteWith, startTestProxy, type TestProxy } from '../support/proxy.js';
import { selfSignedCert } from '../support/tls.js';
import { eventually } from '../support/wait.js';

async function errorOf(res: Response): Promise<{ code: string; message: string; type: string }> {
  assert.equal(res.headers.get('content-type'), 'application/json');
  assert.equal(res.headers.get('x-should-retry'), 'false');
  return ((await res.json()) as { error: { code: string; message: string; type: string } }).error;
}

async function stillServes(proxy: TestProxy): Promise<void> {
  const res = await fetch(`${proxy.url}/_proxy/health`);
  assert.equal(res.status, 200);
}

test('DNS failure: 502 naming the upstream and ENOTFOUND', async (t) => {
  // A 64-character label cannot be encoded in a DNS query, so the resolver fails without sending one.
  const proxy = await startTestProxy(t, { upstream: new URL(`http://${'a'.repeat(64)}.invalid`) });
  const res = await fetch(`${proxy.baseURL}/models`);
  assert.equal(res.status, 502);
  const error = await errorOf(res);
  assert.equal(error.code, 'upstream_unreachable');
  assert.match(error.message, /ENOTFOUND/);
  assert.ok(error.message.includes('.invalid'));
  await stillServes(proxy);
});

test('TLS failure (an untrusted certificate): 502 naming the cause', async (t) => {
  const temp = await tempDir();
  t.after(temp.remove);
  const upstream = await FakeUpstream.start({ tls: await selfSignedCert(temp.dir) });
  t.after(() => upstream.close());
  const proxy = await startTestProxy(t, { upstream: new URL(upstream.url) });
  const res = await fetch(`${proxy.baseURL}/models`);
  assert.equal(res.status, 502);
  assert.match((await errorOf(res)).message, /self[- ]signed certificate/i);
  assert.equal(upstream.requests.length, 0);
  await stillServes(proxy);
});

test('no response headers within --upstream-timeout: 504, nothing saved', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const proxy = await startTestProxy(t, { upstream: new URL(upstream.url), upstreamTimeoutMs: 300 });
  const started = performance.now();
  const res = await fetch(`${proxy.baseURL}/hang`, { method: 'POST' });
  const elapsed = performance.now() - started;
  assert.equal(res.status, 504);
  assert.equal((await errorOf(res)).code, 'upstream_timeout');
  assert.ok(elapsed >= 290 && elapsed < 2000, `answered after ${elapsed.toFixed(0)} ms`);
  await eventually(() => assert.equal(upstream.requests.at(-1)?.aborted, true), 2000);
  await proxy.store.flushAll();
  assert.ok(!existsSync(proxy.defaultCassette));
});

test('a connection reset mid-stream ends the client stream with an error, not a clean end, and is not saved', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const proxy = await startTestProxy(t, { upstream: new URL(upstream.url) });
  const res = await fetch(`${proxy.baseURL}/reset`, { method: 'POST' });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  let received = '';
  const end = await (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return 'clean end';
        received += Buffer.from(value).toString();
      }
    } catch {
      return 'error';
    }
  })();
  assert.equal(end, 'error');
  assert.match(received, /"n":1/);
  await proxy.store.flushAll();
  assert.ok(!existsSync(proxy.defaultCassette), 'a broken exchange is never saved');
  await stillServes(proxy);
});

test('a slow trickle arrives event by event and is saved complete; the timeout only covers the headers', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const proxy = await startTestProxy(t, { upstream: new URL(upstream.url), upstreamTimeoutMs: 150 });
  const started = performance.now();
  const res = await fetch(`${proxy.baseURL}/trickle`, { method: 'POST' });
  const arrivals: number[] = [];
  for await (const _ of res.body!) arrivals.push(performance.now() - started);
  assert.equal(arrivals.length, 5, 'five separate events');
  assert.ok(arrivals.at(-1)! - arrivals[0]! >= 350, 'they came over time, not at once');
  const cassette = await cassetteWith(proxy, 1);
  assert.equal(cassette.interactions[0].cassette_proxy.event_offsets_ms.length, 5);
});
