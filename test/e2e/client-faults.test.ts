/** Client faults: each is answered or dropped on its own, and never disturbs other clients. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { FakeUpstream } from '../support/fake-upstream.js';
import { startTestProxy, type TestProxy } from '../support/proxy.js';
import { eventually } from '../support/wait.js';

async function setup(t: TestContext, overrides: { maxBody?: number; headersTimeoutMs?: number; mode?: 'record' | 'replay' } = {}) {
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
