/** Client faults: each is answered or dropped on its own, and never disturbs other clients. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import type { Mode } from '../../src/mode.js';
import { FakeUpstream } from '../support/fake-upstream.js';
import { capturedLog } from '../support/log.js';
import { startTestProxy, type TestProxy } from '../support/proxy.js';
import { eventually } from '../support/wait.js';

async function setup(t: TestContext, overrides: { maxBody?: number; headersTimeoutMs?: number; mode?: Mode } = {}) {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const proxy = await startTestProxy(t, { upstream: new URL(upstream.url), ...overrides });
  return { upstream, proxy };
}

/** A well-behaved client, to show that the faulty one disturbed nobody. */
async function healthyCall(proxy: TestProxy): Promise<void> {
  const res = await fetch(`${proxy.baseURL}/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"m","input":"fine"}' });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
}

/** Opens a raw TCP connection to the proxy and collects what it answers until it closes. */
function rawSocket(proxy: TestProxy): { socket: net.Socket; answer: Promise<string> } {
  const { port } = new URL(proxy.url);
  const socket = net.connect(Number(port), '127.0.0.1');
  let data = '';
  socket.on('data', (c) => (data += c));
  const answer = new Promise<string>((resolve) => {
    socket.on('close', () => resolve(data));
    socket.on('error', () => undefined);
  });
  return { socket, answer };
}

test('a client that disconnects mid-body: the upstream request is aborted, nothing is saved, others are served', async (t) => {
  const { upstream, proxy } = await setup(t);
  const { socket } = rawSocket(proxy);
  socket.write('POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"model":"m","input":"');
  socket.write('x'.repeat(5000));
  await eventually(() => assert.equal(upstream.requests.length, 1));
  socket.destroy();
  await eventually(() => assert.equal(upstream.requests[0]!.aborted, true));
  await healthyCall(proxy);
  await proxy.store.flushAll();
  assert.equal(upstream.requests.length, 2);
});

test('a client that sends its headers too slowly gets a 408 JSON answer while others are served', async (t) => {
  const { proxy } = await setup(t, { headersTimeoutMs: 500 });
  const { socket, answer } = rawSocket(proxy);
  socket.write('POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\n');
  const drip = setInterval(() => socket.writable && socket.write('X'), 100);
  t.after(() => clearInterval(drip));
  for (let i = 0; i < 5; i++) await healthyCall(proxy);
  const text = await answer;
  clearInterval(drip);
  assert.match(text, /^HTTP\/1\.1 408 /);
  assert.match(text, /"code":"request_timeout"/);
});

test('a body larger than --max-body gets a 413 JSON error, declared or streamed, in record and replay', async (t) => {
  for (const mode of ['record', 'replay'] as const) {
    const { upstream, proxy } = await setup(t, { maxBody: 1024, mode });
    const declared = await fetch(`${proxy.baseURL}/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: 'y'.repeat(4000) }) });
    assert.equal(declared.status, 413, `${mode}: declared length`);
    assert.equal(((await declared.json()) as any).error.code, 'body_too_large');

    const streamed = await fetch(`${proxy.baseURL}/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 8; i++) controller.enqueue(new TextEncoder().encode('z'.repeat(512)));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    assert.equal(streamed.status, 413, `${mode}: chunked body`);
    assert.equal(((await streamed.json()) as any).error.code, 'body_too_large');
    if (mode === 'record') {
      await healthyCall(proxy);
      await proxy.store.flushAll();
      assert.ok(existsSync(proxy.defaultCassette));
      assert.ok(upstream.requests.every((r) => r.body.length <= 1024 || r.aborted), 'no oversized body went through whole');
    }
  }
});

test('malformed HTTP gets a 400 JSON answer on that connection only', async (t) => {
  const { proxy } = await setup(t);
  const { socket, answer } = rawSocket(proxy);
  socket.write('THIS IS NOT HTTP\r\n\r\n');
  const text = await answer;
  assert.match(text, /^HTTP\/1\.1 400 Bad Request/);
  assert.match(text, /"code":"bad_request"/);
  await healthyCall(proxy);
});

/** Sends raw bytes on a new connection; the answer, once the proxy closes the connection (at most 5 s). */
async function rawExchange(proxy: TestProxy, bytes: string): Promise<string> {
  const { socket, answer } = rawSocket(proxy);
  socket.write(bytes);
  const timer = setTimeout(() => socket.destroy(), 5000);
  const text = await answer;
  clearTimeout(timer);
  return text;
}

test('a target that is not a path (absolute-form with userinfo, "*", CONNECT, dot segments) gets a clear 4xx, is never forwarded, and no userinfo is logged', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const captured = capturedLog();
  const proxy = await startTestProxy(t, { upstream: new URL(upstream.url) }, captured.log);
  const { host } = new URL(upstream.url);
  const absolute = await rawExchange(proxy, `GET http://alice:hunter2secret@${host}/v1/models?key=k HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  assert.match(absolute, /^HTTP\/1\.1 400 /);
  assert.match(absolute, /"code":"invalid_request"/);
  assert.match(absolute, /must be a path such as \/v1\/models/);
  const star = await rawExchange(proxy, 'OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
  assert.match(star, /^HTTP\/1\.1 400 [^]*"code":"invalid_request"/);
  const connect = await rawExchange(proxy, `CONNECT ${host} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  assert.match(connect, /^HTTP\/1\.1 405 [^]*"code":"method_not_allowed"/);
  assert.match(connect, /not a forward proxy/);
  // Dot segments would let the upstream's normalisation climb out of an --upstream path prefix.
  for (const path of ['/v1/../admin', '/v1/%2E%2e/admin', '/v1/./models', '/..']) {
    const dotted = await rawExchange(proxy, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    assert.match(dotted, /^HTTP\/1\.1 400 [^]*must not hold a[^]*"code":"invalid_request"/, path);
  }

  assert.equal(upstream.requests.length, 0, 'nothing was forwarded');
  await healthyCall(proxy);
  await proxy.store.flushAll();
  assert.ok(!captured.text().includes('hunter2secret') && !captured.text().includes('alice'), 'no userinfo in the log');
  assert.ok(captured.lines().some((l) => l.path === '/v1/models' && l.error === 'invalid_request'), 'the refusal is logged, path only');
});

test('an Upgrade that is not WebSocket (h2c), or a WebSocket to the admin API, gets 501 upgrade_not_supported at once in every mode, is never forwarded, and holds no shutdown', async (t) => {
  const h2c = 'GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n';
  const admin = 'GET /_proxy/mode HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
  for (const [mode, upgrade] of [['record', h2c], ['replay', admin], ['replay-or-record', h2c], ['passthrough', admin]] as const) {
    const { upstream, proxy } = await setup(t, { mode });
    const started = performance.now();
    const text = await rawExchange(proxy, upgrade);
    assert.match(text, /^HTTP\/1\.1 501 /, `${mode}: ${text}`);
    assert.match(text, /x-should-retry: false/);
    assert.match(text, /"code":"upgrade_not_supported"/);
    assert.match(text, /relays WebSocket upgrades \(GET with Upgrade: websocket\) to API paths only/);
    assert.ok(performance.now() - started < 2000, `${mode}: answered at once`);
    assert.equal(upstream.requests.length, 0, `${mode}: not forwarded`);

    // A client that keeps its end open after the answer does not hold shutdown for the grace period.
    const { socket } = rawSocket(proxy);
    socket.write(upgrade);
    await eventually(() => assert.ok(socket.bytesRead > 0 || socket.destroyed));
    const closing = performance.now();
    await proxy.close(10_000);
    assert.ok(performance.now() - closing < 2000, `${mode}: shutdown took ${(performance.now() - closing).toFixed(0)} ms`);
    socket.destroy();
  }
});
