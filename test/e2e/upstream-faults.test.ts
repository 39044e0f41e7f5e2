/**
 * Upstream faults: each gives the client a clear answer, is never saved as if complete, and leaves
 * the proxy serving the next request.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import OpenAI from 'openai';
import { FakeUpstream } from '../support/fake-upstream.js';
import { tempDir } from '../support/paths.js';
import { cassetteWith, startTestProxy, type TestProxy } from '../support/proxy.js';
import { selfSignedCert } from '../support/tls.js';
import { eventually } from '../support/wait.js';

/** The error body; `x-should-retry` is true for these transient conditions, as the SDKs would retry them talking to OpenAI directly. */
async function errorOf(res: Response): Promise<{ code: string; message: string; type: string }> {
  assert.equal(res.headers.get('content-type'), 'application/json');
  assert.equal(res.headers.get('x-should-retry'), 'true');
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

/** A TCP front to `target` that resets its first `failures` connections: an upstream briefly unreachable. */
async function flakyFront(t: TestContext, target: URL, failures: number): Promise<{ url: string; connections: () => number }> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (++connections <= failures) return void socket.resetAndDestroy();
    const back = net.connect(Number(target.port), target.hostname);
    sockets.add(back);
    back.on('error', () => socket.destroy());
    socket.pipe(back).pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, connections: () => connections };
}

test('a briefly unreachable upstream: the 502 says x-should-retry: true, so the official client retries and gets its answer', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const front = await flakyFront(t, new URL(upstream.url), 1);
  const proxy = await startTestProxy(t, { upstream: new URL(front.url) });
  const client = new OpenAI({ apiKey: 'k', baseURL: proxy.baseURL, maxRetries: 2 });
  const embedding = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'x' });
  assert.equal(embedding.data.length, 1);
  assert.equal(front.connections(), 2, 'one attempt was refused, the retry got through');
  assert.equal(upstream.requests.length, 1);
  await cassetteWith(proxy, 1);
});

test('what will not mend says x-should-retry: false: the official client tries an unrelayable answer and a miss once', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const proxy = await startTestProxy(t, { upstream: new URL(upstream.url) });
  const client = new OpenAI({ apiKey: 'k', baseURL: proxy.baseURL, maxRetries: 2 });
  // The fake sends this JSON back as its whole answer: not HTTP.
  const invalid: any = await client.post('/raw', { body: { not: 'http' } }).catch((e: unknown) => e);
  assert.equal(invalid.status, 502);
  assert.equal(invalid.code, 'upstream_invalid_response');
  assert.equal(upstream.requests.filter((r) => r.url === '/v1/raw').length, 1, 'attempted once');

  const replay = await startTestProxy(t, { upstream: new URL(upstream.url), mode: 'replay' });
  await writeFile(replay.defaultCassette, '---\nversion: 2\ninteractions: []\n');
  const miss: any = await new OpenAI({ apiKey: 'k', baseURL: replay.baseURL, maxRetries: 2 }).models.list().catch((e: unknown) => e);
  assert.equal(miss.status, 404);
  const metrics = await (await fetch(`${replay.url}/_proxy/metrics`)).text();
  assert.match(metrics, /^cassette_proxy_exchanges_total\{mode="replay",outcome="miss",upstream="openai"\} 1$/m, 'attempted once');
});
