/**
 * A web page on the developer's machine: by DNS rebinding its requests reach 127.0.0.1 under the
 * attacker's name (Host), and even without it a cross-site page can send simple requests (a
 * text/plain POST needs no preflight). Neither may read, change or record anything.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { test } from 'node:test';
import { FakeUpstream } from '../support/fake-upstream.js';
import { startTestProxy, type TestProxy } from '../support/proxy.js';

interface Answer {
  status: number;
  body: string;
}

/** A raw request, so that Host, Origin and Sec-Fetch-Site are exactly what a browser would send. */
function send(proxy: TestProxy, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  const url = new URL(proxy.url);
  return new Promise((resolve, reject) => {
    // Always to 127.0.0.1: a proxy listening on 0.0.0.0 is reached there too.
    const req = http.request({ host: '127.0.0.1', port: url.port, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const codeOf = (answer: Answer): string => (JSON.parse(answer.body) as { error: { code: string } }).error.code;

async function setup(t: test.TestContext, overrides: { allowedHosts?: string[]; host?: string } = {}) {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const proxy = await startTestProxy(t, { upstream: new URL(upstream.url), ...overrides });
  return { upstream, proxy };
}

test('DNS rebinding: a Host that is not a loopback name gets 403 on every path, admin included; nothing is forwarded or recorded', async (t) => {
  const { upstream, proxy } = await setup(t);
  const rebound = { host: `attacker.example:${new URL(proxy.url).port}` };
  for (const [method, path] of [
    ['GET', '/_proxy/health'],
    ['GET', '/_proxy/cassettes'],
    ['GET', '/_proxy/metrics'],
    ['GET', '/v1/models'],
  ] as const) {
    const answer = await send(proxy, method, path, rebound);
    assert.equal(answer.status, 403, `${method} ${path}`);
    assert.equal(codeOf(answer), 'host_not_allowed');
    assert.match(answer.body, /--allowed-host/);
  }
  // The attack itself: a text/plain body (no preflight) switching the mode and the cassette.
  const change = await send(proxy, 'PUT', '/_proxy/mode', { ...rebound, 'content-type': 'text/plain' }, '{"mode":"passthrough","cassette":"pwned"}');
  assert.equal(change.status, 403);
  const post = await send(proxy, 'POST', '/v1/chat/completions', { ...rebound, 'content-type': 'text/plain' }, '{"model":"gpt-4o-mini","messages":[]}');
  assert.equal(post.status, 403);
  assert.equal(upstream.requests.length, 0);
  await proxy.store.flushAll();
  assert.equal(existsSync(proxy.defaultCassette), false, 'nothing was recorded');
  // Tricks that URL parsing alone would read as loopback.
  for (const host of ['attacker.example@127.0.0.1', '127.0.0.1.attacker.example', 'localhost.attacker.example:80']) {
    assert.equal((await send(proxy, 'GET', '/_proxy/health', { host })).status, 403, host);
  }
  const state = JSON.parse((await send(proxy, 'GET', '/_proxy/mode', {})).body) as { mode: string; cassette: string };
  assert.deepEqual(state, { mode: 'record', cassette: 'default' });
  const metrics = (await send(proxy, 'GET', '/_proxy/metrics', {})).body;
  assert.match(metrics, /cassette_proxy_refused_requests_total\{code="host_not_allowed"\} (\d+)/);
});

test('loopback names and addresses pass the Host check, with or without a port', async (t) => {
  const { proxy } = await setup(t);
  const port = new URL(proxy.url).port;
  for (const host of ['127.0.0.1', `127.0.0.1:${port}`, `localhost:${port}`, 'LOCALHOST', 'app.localhost', `[::1]:${port}`, '127.1.2.3']) {
    assert.equal((await send(proxy, 'GET', '/_proxy/health', { host })).status, 200, host);
  }
});

test('--allowed-host lets a sidecar be reached by its name; others still get 403', async (t) => {
  const { upstream, proxy } = await setup(t, { allowedHosts: ['cassette-proxy'] });
  const port = new URL(proxy.url).port;
  assert.equal((await send(proxy, 'GET', '/v1/models', { host: `cassette-proxy:${port}`, authorization: 'Bearer test' })).status, 200);
  assert.equal(upstream.requests.length, 1);
  assert.equal((await send(proxy, 'GET', '/v1/models', { host: `other-name:${port}` })).status, 403);
});

test('a cross-site page (Origin or Sec-Fetch-Site) can neither record nor change the mode', async (t) => {
  const { upstream, proxy } = await setup(t);
  const simplePost = { 'content-type': 'text/plain', origin: 'https://attacker.example' };
  const post = await send(proxy, 'POST', '/v1/chat/completions', simplePost, '{"model":"gpt-4o-mini","messages":[]}');
  assert.equal(post.status, 403);
  assert.equal(codeOf(post), 'origin_not_allowed');
  const change = await send(proxy, 'PUT', '/_proxy/mode', simplePost, '{"mode":"passthrough"}');
  assert.equal(codeOf(change), 'origin_not_allowed');
  const noCors = await send(proxy, 'GET', '/v1/models', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' });
  assert.equal(codeOf(noCors), 'origin_not_allowed');
  for (const origin of ['null', 'file://', 'http://attacker.example:8080']) {
    assert.equal((await send(proxy, 'GET', '/_proxy/health', { origin })).status, 403, origin);
  }
  assert.equal(upstream.requests.length, 0);
  // A page of the developer's own app on localhost may use the proxy (and change its mode).
  const own = await send(proxy, 'PUT', '/_proxy/mode', { origin: 'http://localhost:5173', 'sec-fetch-site': 'same-site' }, '{"mode":"passthrough"}');
  assert.equal(own.status, 200);
});

test('listening on all interfaces: any Host is answered (a sidecar is reached by its service name), but admin changes from another site are still refused', async (t) => {
  const { proxy } = await setup(t, { host: '0.0.0.0' });
  const port = new URL(proxy.url).port;
  assert.equal((await send(proxy, 'GET', '/_proxy/health', { host: `cassette-proxy.staging.svc:${port}` })).status, 200);
  const change = await send(proxy, 'PUT', '/_proxy/mode', { origin: 'https://attacker.example', 'content-type': 'text/plain' }, '{"mode":"passthrough"}');
  assert.equal(change.status, 403);
  assert.equal(codeOf(change), 'origin_not_allowed');
  assert.equal(JSON.parse((await send(proxy, 'GET', '/_proxy/mode', {})).body).mode, 'record');
});
