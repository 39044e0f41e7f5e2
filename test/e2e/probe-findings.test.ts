/**
 * Findings of an outside probe of the built proxy: each test is a defect that still breaks after
 * the hardening pass (red until fixed). Real sockets on 127.0.0.1, port 0.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import zlib from 'node:zlib';
import { startProxy as startLibraryProxy } from '../../src/api/index.js';
import { makeTestKey } from '../support/fake-upstream.js';
import { cassetteWith, startTestProxy, type TestProxy } from '../support/proxy.js';

/** A throwaway upstream on 127.0.0.1 answering every request with `answer`. */
async function upstreamWith(t: TestContext, answer: (req: IncomingMessage, body: Buffer, res: ServerResponse) => void): Promise<URL> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => answer(req, Buffer.concat(chunks), res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

/** A request through the proxy whose answer is read as raw bytes (no decoding by the client). */
function rawPost(proxy: TestProxy, path: string, headers: Record<string, string>, body: string): Promise<{ status: number; bytes: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${proxy.url}${path}`, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Every way a stored body could be read back: as it is, and decompressed by any of the usual codings. */
function readableForms(body: unknown): string[] {
  if (typeof body === 'string') return [body];
  const bytes = Buffer.from(body as Uint8Array);
  const forms = [bytes.toString('latin1')];
  const flush = { finishFlush: zlib.constants.Z_SYNC_FLUSH };
  for (const decode of [zlib.gunzipSync, zlib.inflateSync, zlib.inflateRawSync]) {
    try {
      forms.push(decode(bytes, flush).toString('latin1'));
    } catch {
      // not this coding
    }
  }
  return forms;
}

test('a credential echoed in a response body the proxy cannot decode (raw deflate, truncated gzip) never reaches the cassette', async (t) => {
  const key = makeTestKey();
  const encodings: Record<string, (text: string) => Buffer> = {
    // Many servers send raw DEFLATE under "deflate"; zlib's inflate refuses it.
    '/v1/deflate-raw': (text) => zlib.deflateRawSync(text),
    // A gzip member without its 8-byte trailer: the client reads it, the side decoder fails.
    '/v1/gzip-truncated': (text) => zlib.gzipSync(text).subarray(0, -8),
  };
  const upstream = await upstreamWith(t, (req, _body, res) => {
    const text = JSON.stringify({ error: { message: `Incorrect API key provided: ${req.headers.authorization}` } });
    const encoded = encodings[req.url!]!(text);
    res.writeHead(401, { 'content-type': 'application/json', 'content-encoding': req.url === '/v1/deflate-raw' ? 'deflate' : 'gzip', 'content-length': encoded.length });
    res.end(encoded);
  });
  const proxy = await startTestProxy(t, { upstream });
  for (const path of Object.keys(encodings)) {
    const { status } = await rawPost(proxy, path, { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, '{"model":"m"}');
    assert.equal(status, 401);
  }
  const cassette = await cassetteWith(proxy, 2);
  const leaked = (cassette.interactions as { request: { url: string }; response: { body: unknown } }[])
    .filter((interaction) => readableForms(interaction.response.body).some((form) => form.includes(key)))
    .map((interaction) => new URL(interaction.request.url).pathname);
  assert.deepEqual(leaked, [], 'the key the client sent can be read back from these stored bodies');
});

test("the Responses API's MCP tool `authorization` (an OAuth token) is redacted from the recorded request", async (t) => {
  const token = `gho_${randomBytes(18).toString('hex')}`;
  const upstream = await upstreamWith(t, (_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"id":"resp_1","object":"response"}');
  });
  const proxy = await startTestProxy(t, { upstream });
  const body = {
    model: 'gpt-4.1',
    input: 'What is in my repo?',
    tools: [{ type: 'mcp', server_label: 'github', server_url: 'https://mcp.example/sse', authorization: token, require_approval: 'never' }],
  };
  const res = await fetch(`${proxy.baseURL}/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 200);
  await res.text();
  await cassetteWith(proxy, 1);
  const text = await readFile(proxy.defaultCassette, 'utf8');
  assert.ok(!text.includes(token), 'the MCP server token is in the cassette');
});

test('replay-or-record: one request with a deeply nested JSON body does not make its cassette unusable for every later request', async (t) => {
  const upstream = await upstreamWith(t, (_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  const proxy = await startTestProxy(t, { upstream, mode: 'replay-or-record' });
  const post = (body: string) => fetch(`${proxy.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  const deep = await post('['.repeat(500_000) + ']'.repeat(500_000));
  assert.equal(deep.status, 200);
  await deep.text();
  await cassetteWith(proxy, 1);

  // A bystander: an ordinary request into the same cassette, recorded once, then replayed.
  for (let i = 0; i < 2; i++) {
    const res = await post('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}');
    const text = await res.text();
    assert.equal(res.status, 200, `request ${i}: ${text}`);
  }
});

test('a client fault on a connection never writes its error answer into the stream in flight on that connection', async (t) => {
  const upstream = await upstreamWith(t, (_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    let n = 0;
    const timer = setInterval(() => {
      res.write(`data: {"n":${n}}\n\n`);
      if (++n === 8) {
        clearInterval(timer);
        res.end('data: [DONE]\n\n');
      }
    }, 200);
    res.on('close', () => clearInterval(timer));
  });
  const proxy = await startTestProxy(t, { upstream, headersTimeoutMs: 500 });
  const socket = net.connect(Number(new URL(proxy.url).port), '127.0.0.1');
  t.after(() => socket.destroy());
  let got = '';
  socket.on('data', (c) => (got += c));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  // A stream, then the next (pipelined) request, whose headers never finish.
  socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}POST /v1/next HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Partial: 1\r\n');
  await closed;

  assert.match(got, /^HTTP\/1\.1 200 /);
  const streamEnd = got.indexOf('\r\n0\r\n\r\n');
  const second = got.indexOf('HTTP/1.1 ', 1);
  assert.ok(second === -1 || (streamEnd !== -1 && second > streamEnd), `an error answer went out inside the stream's body: ${JSON.stringify(got.slice(Math.max(0, second - 40), second + 40))}`);
  const health = await fetch(`${proxy.url}/_proxy/health`);
  assert.equal(health.status, 200);
});

test('a default cassette name shaped like a credential is refused at start, as x-cassette and PUT /_proxy/mode refuse it', async (t) => {
  const key = makeTestKey();
  let proxy: Awaited<ReturnType<typeof startLibraryProxy>> | undefined;
  try {
    proxy = await startLibraryProxy({ port: 0, logLevel: 'silent', cassette: key });
  } catch (err) {
    assert.ok(!String((err as Error).message).includes(key), 'the refusal repeats the key');
    return;
  }
  t.after(() => proxy!.close());
  // It started: the key is now the answer of an open endpoint, and the name of a file.
  const health = await (await fetch(`${proxy.url}/_proxy/health`)).text();
  assert.fail(`started with a key-shaped default cassette; /_proxy/health answers ${health.includes(key) ? 'with the key in it' : health}`);
});
