/**
 * go-vcr fidelity for the end of a response: trailers are recorded in `trailer` (not as a
 * `Trailer` header), reach the client live, and come back as HTTP trailers on replay; a 204 or
 * 304 records `content_length: 0`, as Go's client holds it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, readFile } from 'node:fs/promises';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { FakeUpstream, makeTestKey } from '../support/fake-upstream.js';
import { fixture } from '../support/paths.js';
import { cassetteWith, startTestProxy, type TestProxy } from '../support/proxy.js';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  trailers: NodeJS.Dict<string>;
}

/** One request with node:http, the whole answer read, trailers included. */
function request(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: init.method ?? 'GET', headers: init.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, trailers: res.trailers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** The bytes an HTTP/1.0 client gets for a GET, read off the socket until the proxy closes it. */
function http10(proxy: TestProxy, pathname: string, body: string): Promise<string> {
  const { port } = new URL(proxy.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () =>
      socket.end(`POST ${pathname} HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`),
    );
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

/** Built at run time: no tracked file holds a key-shaped string. */
const UPSTREAM_KEY = makeTestKey();
const MARKER = /^\[REDACTED:hmac-sha256:[0-9a-f]{16}\]$/;
const digest = (body: string): string => `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;

async function deadUpstream(): Promise<URL> {
  const fake = await FakeUpstream.start();
  await fake.close();
  return new URL(fake.url);
}

/** An upstream that answers by path: chunked with trailers, 204, 304, and a HEAD with a length. */
async function trailerUpstream(t: TestContext): Promise<URL> {
  const server = http.createServer((req, res) => {
    req.resume();
    if (req.url === '/v1/empty') {
      res.writeHead(204);
      res.end();
    } else if (req.url === '/v1/cached') {
      res.writeHead(304, { ETag: '"v1"', 'Content-Length': '1234' });
      res.end();
    } else if (req.method === 'HEAD') {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': '42' });
      res.end();
    } else {
      const body = '{"ok":true}';
      res.writeHead(200, { 'Content-Type': 'application/json', Trailer: 'X-Checksum, X-Api-Key, X-Session-Token, X-Never-Sent' });
      res.write(body.slice(0, 5));
      res.addTrailers([
        ['x-checksum', digest(body)],
        ['X-Api-Key', UPSTREAM_KEY],
        ['X-Session-Token', 'session-secret-value'],
      ]);
      res.end(body.slice(5));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

test('a go-vcr v4 cassette with trailers replays them after the body, announced in a Trailer header, for JSON and for SSE', async (t) => {
  const proxy = await startTestProxy(t, { mode: 'replay', upstream: await deadUpstream(), cassette: 'govcr-trailer' });
  await copyFile(fixture('govcr-v4-trailer.yaml'), path.join(proxy.dir, 'govcr-trailer.yaml'));
  const headers = { 'content-type': 'application/json' };

  const json = await request(`${proxy.baseURL}/chat/completions`, { method: 'POST', headers, body: '{"model":"test-model","messages":[{"role":"user","content":"Checksum please"}]}' });
  assert.equal(json.status, 200);
  assert.match(json.body, /"content":"Checked\."/);
  assert.equal(json.headers['transfer-encoding'], 'chunked');
  assert.equal(json.headers['content-length'], undefined);
  assert.equal(json.headers.trailer, 'Repr-Digest, Server-Timing');
  assert.deepEqual(json.trailers, { 'repr-digest': digest(json.body) }, 'the recorded digest, of the body as replayed; Server-Timing was announced and never sent');

  const sse = await request(`${proxy.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { ...headers, accept: 'text/event-stream' },
    body: '{"model":"test-model","messages":[{"role":"user","content":"Stream with a checksum"}],"stream":true}',
  });
  assert.match(sse.headers['content-type'] ?? '', /^text\/event-stream/);
  assert.ok(sse.body.endsWith('data: [DONE]\n\n'));
  assert.equal(sse.trailers['repr-digest'], digest(sse.body));

  // HTTP/1.0 has no chunked framing, so no trailers: the body alone, with its length.
  const old = await http10(proxy, '/v1/chat/completions', '{"model":"test-model","messages":[{"role":"user","content":"Checksum please"}]}');
  assert.match(old, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(old, /\r\nContent-Length: \d+\r\n/i);
  assert.doesNotMatch(old, /\r\n(?:Trailer|Transfer-Encoding|Repr-Digest):/i);
  assert.ok(old.endsWith('"finish_reason":"stop"}]}'));
});

test('recording: upstream trailers reach the client live and are saved in trailer, redacted, without the Trailer header; they replay', async (t) => {
  const upstream = await trailerUpstream(t);
  const recorder = await startTestProxy(t, { upstream, redactHeaders: ['X-Session-Token'] });
  const live = await request(`${recorder.baseURL}/files/f/content`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(live.body, '{"ok":true}');
  assert.equal(live.headers.trailer, 'X-Checksum, X-Api-Key, X-Session-Token, X-Never-Sent');
  assert.deepEqual(live.trailers, { 'x-checksum': digest(live.body), 'x-api-key': UPSTREAM_KEY, 'x-session-token': 'session-secret-value' }, 'the client gets the trailers as sent');

  const cassette = await cassetteWith(recorder, 1);
  const { response } = cassette.interactions[0];
  const { 'X-Api-Key': apiKey, 'X-Session-Token': sessionToken, ...kept } = response.trailer!;
  assert.deepEqual(kept, { 'X-Checksum': [digest(live.body)], 'X-Never-Sent': [] });
  assert.match(String(apiKey), MARKER);
  assert.match(String(sessionToken), MARKER);
  assert.equal(response.headers.Trailer, undefined, 'Go moves the Trailer header into the trailer map');
  assert.deepEqual(response.transfer_encoding, ['chunked']);
  assert.equal(response.content_length, -1);
  const text = await readFile(recorder.defaultCassette, 'utf8');
  assert.ok(!text.includes(UPSTREAM_KEY) && !text.includes('session-secret-value'));
  // go-vcr's field order: transfer_encoding, trailer, content_length.
  assert.deepEqual(Object.keys(response).slice(3, 6), ['transfer_encoding', 'trailer', 'content_length']);

  const replayer = await startTestProxy(t, { mode: 'replay', upstream: await deadUpstream() });
  await copyFile(recorder.defaultCassette, replayer.defaultCassette);
  const replayed = await request(`${replayer.baseURL}/files/f/content`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(replayed.body, '{"ok":true}');
  assert.equal(replayed.headers.trailer, 'X-Api-Key, X-Checksum, X-Never-Sent, X-Session-Token');
  assert.deepEqual(replayed.trailers, { 'x-api-key': apiKey![0], 'x-checksum': digest(live.body), 'x-session-token': sessionToken![0] });
});

test('a 204 and a 304 are recorded with content_length 0, as Go holds them; a HEAD keeps the length it declares', async (t) => {
  const upstream = await trailerUpstream(t);
  const proxy = await startTestProxy(t, { upstream });
  assert.equal((await request(`${proxy.baseURL}/empty`, { method: 'DELETE' })).status, 204);
  assert.equal((await request(`${proxy.baseURL}/cached`, { headers: { 'if-none-match': '"v1"' } })).status, 304);
  assert.equal((await request(`${proxy.baseURL}/files/f/content`, { method: 'HEAD' })).headers['content-length'], '42');
  const cassette = await cassetteWith(proxy, 3);
  const byUrl = Object.fromEntries(cassette.interactions.map((i: any) => [`${i.request.method} ${new URL(i.request.url).pathname}`, i.response]));
  assert.equal(byUrl['DELETE /v1/empty'].content_length, 0);
  assert.equal(byUrl['GET /v1/cached'].content_length, 0);
  assert.deepEqual(byUrl['GET /v1/cached'].headers['Content-Length'], ['1234'], 'the header as sent; only the length Go holds is 0');
  assert.equal(byUrl['HEAD /v1/files/f/content'].content_length, 42);
});
