/**
 * Compressed answers when recording: the client gets the bytes the upstream sent, the cassette
 * gets the body decoded (so redaction sees inside it), and a body that cannot be decoded whole is
 * not saved at all. Real sockets on 127.0.0.1, port 0.
 */
import assert from 'node:assert/strict';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import zlib from 'node:zlib';
import { digestMarker } from '../../src/redact/marker.js';
import { makeTestKey } from '../support/fake-upstream.js';
import { capturedLog } from '../support/log.js';
import { cassetteWith, startTestProxy, type TestProxy } from '../support/proxy.js';
import { eventually } from '../support/wait.js';

/** An upstream on 127.0.0.1 answering each path with `answer`. */
async function upstreamWith(t: TestContext, answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<URL> {
  const server = http.createServer((req, res) => req.resume().on('end', () => answer(req, res)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

/** A POST through the proxy whose answer is read as raw bytes (nothing decodes it). */
function rawPost(proxy: TestProxy, path: string, key: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${proxy.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks)));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end('{"model":"m"}');
  });
}

/** Sends `bytes` in pieces, so that the proxy's decoder sees them as a stream. */
async function sendInPieces(res: ServerResponse, bytes: Buffer, pieces: number): Promise<void> {
  const size = Math.ceil(bytes.length / pieces);
  for (let at = 0; at < bytes.length; at += size) {
    res.write(bytes.subarray(at, at + size));
    await new Promise((resolve) => setImmediate(resolve));
  }
  res.end();
}

const echo = (req: IncomingMessage): string => JSON.stringify({ error: { message: `Incorrect API key provided: ${req.headers.authorization}` }, padding: 'x'.repeat(100_000) });

test('raw DEFLATE sent as `deflate` and gzip missing only its trailer are stored decoded, and redacted', async (t) => {
  const key = makeTestKey();
  const encodings: Record<string, [string, (text: string) => Buffer]> = {
    '/v1/deflate-raw': ['deflate', (text) => zlib.deflateRawSync(text)],
    '/v1/gzip-no-trailer': ['gzip', (text) => zlib.gzipSync(text).subarray(0, -8)],
    '/v1/gzip-half-trailer': ['gzip', (text) => zlib.gzipSync(text).subarray(0, -4)],
  };
  const upstream = await upstreamWith(t, (req, res) => {
    const [coding, encode] = encodings[req.url!]!;
    res.writeHead(401, { 'content-type': 'application/json', 'content-encoding': coding });
    void sendInPieces(res, encode(echo(req)), 8);
  });
  const proxy = await startTestProxy(t, { upstream });
  for (const path of Object.keys(encodings)) await rawPost(proxy, path, key);
  const cassette = await cassetteWith(proxy, 3);
  for (const { request, response } of cassette.interactions) {
    const where = new URL(request.url).pathname;
    assert.equal(response.uncompressed, true, where);
    assert.equal(response.headers['Content-Encoding'], undefined, where);
    const body = JSON.parse(response.body);
    assert.equal(body.error.message, `Incorrect API key provided: Bearer ${digestMarker()(key)}`, where);
    assert.equal(body.padding.length, 100_000, where);
  }
});

test('a body that cannot be decoded whole reaches the client as sent, is logged at warn and is not saved; the next exchange is', async (t) => {
  const key = makeTestKey();
  const gzipWithBadChecksum = (s: string): Buffer => {
    const bytes = Buffer.from(zlib.gzipSync(s));
    bytes[bytes.length - 8]! ^= 1;
    return bytes;
  };
  const bodies: Record<string, [string, (s: string) => Buffer]> = {
    '/v1/gzip-cut-in-data': ['gzip', (s) => zlib.gzipSync(s).subarray(0, 200)],
    '/v1/gzip-bad-checksum': ['gzip', gzipWithBadChecksum],
    '/v1/deflate-garbage': ['deflate', (s) => Buffer.concat([Buffer.from('not compressed at all '), Buffer.from(s)])],
    '/v1/zstd': ['zstd', (s) => Buffer.from(s)],
    '/v1/gzip-twice': ['gzip, gzip', (s) => zlib.gzipSync(zlib.gzipSync(s))],
  };
  const sent = new Map<string, Buffer>();
  const upstream = await upstreamWith(t, (req, res) => {
    if (req.url === '/v1/plain') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end('{"ok":true}');
    }
    const [coding, encode] = bodies[req.url!]!;
    const bytes = encode(echo(req));
    sent.set(req.url!, bytes);
    res.writeHead(401, { 'content-type': 'application/json', 'content-encoding': coding });
    void sendInPieces(res, bytes, 4);
  });
  const captured = capturedLog();
  const proxy = await startTestProxy(t, { upstream }, captured.log);
  for (const path of Object.keys(bodies)) assert.ok((await rawPost(proxy, path, key)).equals(sent.get(path)!), `${path}: the client got the bytes as sent`);
  await rawPost(proxy, '/v1/plain', key);

  const cassette = await cassetteWith(proxy, 1);
  assert.equal(new URL(cassette.interactions[0].request.url).pathname, '/v1/plain');
  const refused = captured.lines().filter((l) => l.msg === 'the response body could not be decoded to check it for credentials; this exchange is not saved');
  assert.deepEqual(refused.map((l) => l.path).sort(), Object.keys(bodies).sort());
  assert.ok(refused.every((l) => l.level === 40 && typeof l.reason === 'string' && !String(l.reason).includes(key)));
  await eventually(() => {
    const outcomes = captured.lines().filter((l) => l.msg === 'exchange' && String(l.path).startsWith('/v1/'));
    assert.deepEqual(outcomes.map((l) => `${l.path} ${l.outcome}`).sort(), [...Object.keys(bodies).map((p) => `${p} forwarded`), '/v1/plain recorded'].sort());
  });
});

test('an answer with no body that names its coding (a 204) is saved as it is', async (t) => {
  const upstream = await upstreamWith(t, (_req, res) => {
    res.writeHead(204, { 'content-encoding': 'gzip' });
    res.end();
  });
  const proxy = await startTestProxy(t, { upstream });
  assert.equal((await rawPost(proxy, '/v1/empty', makeTestKey())).length, 0);
  const [{ response }] = (await cassetteWith(proxy, 1)).interactions;
  assert.equal(response.code, 204);
  assert.equal(response.body, '');
  assert.deepEqual(response.headers['Content-Encoding'], ['gzip']);
});
