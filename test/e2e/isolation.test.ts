/**
 * Isolation: whatever goes wrong inside one exchange ends that exchange only. An upstream answer
 * HTTP cannot relay gets a 502 (or, once the head is out, a cut), is logged and counted as a
 * failure and never saved, while a stream through the same proxy finishes and the next request is
 * served; and the error path itself never throws.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { ProxyError } from '../../src/errors.js';
import { sendError } from '../../src/http/respond.js';
import { openai } from '../../src/providers/openai.js';
import { FakeUpstream } from '../support/fake-upstream.js';
import { capturedLog } from '../support/log.js';
import { cassetteWith, startTestProxy, type TestProxy } from '../support/proxy.js';
import { deferred } from '../support/wait.js';

/** A chat stream through the proxy, held by the upstream after its first event until `finish`. */
async function openBystander(proxy: TestProxy, upstream: FakeUpstream): Promise<{ finish: () => Promise<string> }> {
  const hold = deferred();
  upstream.holdAfterFirstEvent = hold.promise;
  const stream = await proxy.client('k').chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'echo:the bystander finishes' }], stream: true });
  const events = stream[Symbol.asyncIterator]();
  await events.next(); // the stream is open and waiting
  upstream.holdAfterFirstEvent = undefined;
  return {
    finish: async () => {
      hold.resolve();
      let text = '';
      for (let next = await events.next(); !next.done; next = await events.next()) text += next.value.choices[0]?.delta?.content ?? '';
      return text;
    },
  };
}

type Answer = { status: number; code: string | undefined; retry: string | null } | 'cut' | 'hung';

/**
 * Has the upstream answer with exactly these bytes: what the client got, 'cut' when its connection
 * broke, 'hung' when it was still waiting after 3 s.
 */
async function throughHostile(proxy: TestProxy, bytes: string): Promise<Answer> {
  const signal = AbortSignal.timeout(3000);
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${proxy.baseURL}/raw`, { method: 'POST', body: Buffer.from(bytes, 'latin1'), signal });
    text = await res.text();
  } catch {
    return signal.aborted ? 'hung' : 'cut';
  }
  const code = text.startsWith('{"error"') ? (JSON.parse(text) as { error: { code: string } }).error.code : undefined;
  return { status: res.status, code, retry: res.headers.get('x-should-retry') };
}

const refused = { status: 502, code: 'upstream_invalid_response', retry: 'false' };

/** Upstream answers that HTTP cannot relay, each with what the client is to get. */
const HOSTILE: [string, string, Answer][] = [
  ['status 000', 'HTTP/1.1 000 OK\r\nContent-Length: 2\r\n\r\nhi', refused],
  ['status 099', 'HTTP/1.1 099 Odd\r\nContent-Length: 2\r\n\r\nhi', refused],
  ['status 1000', 'HTTP/1.1 1000 Odd\r\nContent-Length: 2\r\n\r\nhi', refused],
  ['status 600', 'HTTP/1.1 600 Odd\r\nContent-Length: 2\r\n\r\nhi', refused],
  ['a control character in the reason', 'HTTP/1.1 200 O\x01K\r\nContent-Length: 2\r\n\r\nhi', refused],
  ['DEL in the reason', 'HTTP/1.1 200 O\x7fK\r\nContent-Length: 2\r\n\r\nhi', refused],
  ['a bare CR in the reason', 'HTTP/1.1 200 O\rK\r\nContent-Length: 2\r\n\r\nhi', refused],
  ['an unsolicited 101', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nframes', refused],
  ['not HTTP at all', 'SSH-2.0-OpenSSH_9.6\r\n\r\n', refused],
  ['a control character in a header', 'HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 2\r\n\r\nhi', refused],
  ['two Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi', refused],
  ['fewer bytes than its Content-Length, then a close', 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"id":"x"', 'cut'],
  ['a Content-Length of a terabyte, then a close', 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1099511627776\r\n\r\n{"id":"x"', 'cut'],
  ['more bytes than its Content-Length', 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{"a":1}{"b":2}', 'cut'],
  ['a broken chunk', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n', 'cut'],
];

async function metric(proxy: TestProxy, sample: string): Promise<number> {
  const text = await (await fetch(`${proxy.url}/_proxy/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

test('an upstream answer HTTP cannot relay fails that exchange only (a 502, or a cut once the head is out), logged and counted, never saved; a stream in flight finishes', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const captured = capturedLog();
  const proxy = await startTestProxy(t, { upstream: new URL(upstream.url) }, captured.log);
  const bystander = await openBystander(proxy, upstream);

  for (const [name, bytes, expected] of HOSTILE) assert.deepEqual(await throughHostile(proxy, bytes), expected, name);

  assert.equal(await bystander.finish(), 'the bystander finishes', 'the stream in flight finished whole');
  assert.equal((await fetch(`${proxy.url}/_proxy/health`)).status, 200);
  const next = await proxy.client('k').embeddings.create({ model: 'text-embedding-3-small', input: 'next' });
  assert.equal(next.data.length, 1, 'the next request is served');

  const cassette = await cassetteWith(proxy, 2);
  assert.deepEqual(
    cassette.interactions.map((i: any) => new URL(i.request.url).pathname),
    ['/v1/chat/completions', '/v1/embeddings'],
    'only the two good exchanges were saved',
  );
  assert.equal(await metric(proxy, 'cassette_proxy_exchanges_total{mode="record",outcome="error",upstream="openai"}'), HOSTILE.length);
  assert.equal(await metric(proxy, 'cassette_proxy_exchanges_total{mode="record",outcome="recorded",upstream="openai"}'), 2);
  const failed = captured.lines().filter((l) => l.path === '/v1/raw' && l.msg === 'exchange failed');
  assert.equal(failed.length, HOSTILE.length, 'each failure is logged');
  assert.ok(failed.every((l) => l.level === 40 && l.outcome === 'error' && l.error !== undefined), 'at warn, as a failure with its code');
  assert.ok(!captured.lines().some((l) => l.path === '/v1/raw' && l.outcome === 'recorded'));
});

test('sendError never throws: after a writeHead that threw, after the head went out, after the end, on a destroyed response', async (t) => {
  const error = new ProxyError('upstream_invalid_response', 'the upstream answered something HTTP cannot relay');
  const poisons: Record<string, (res: http.ServerResponse) => void> = {
    '/after-a-failed-write-head': (res) => assert.throws(() => res.writeHead(200, 'O\u0001K')),
    '/after-the-head': (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
    },
    '/after-the-end': (res) => res.end('whole'),
    '/destroyed': (res) => res.destroy(),
  };
  const server = http.createServer((req, res) => {
    poisons[req.url!]!(res);
    sendError(res, error, openai);
    sendError(res, error, openai);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const get = async (path: string): Promise<string> => {
    try {
      const res = await fetch(`${base}${path}`);
      return `${res.status} ${res.headers.get('x-should-retry')} ${await res.text()}`;
    } catch {
      return 'cut';
    }
  };
  assert.equal(await get('/after-a-failed-write-head'), `502 false ${openai.renderError(error).body}`);
  assert.equal(await get('/after-the-head'), 'cut');
  assert.equal(await get('/after-the-end'), '200 null whole');
  assert.equal(await get('/destroyed'), 'cut');
});

test('an exchange that failed is never labelled recorded, in replay-or-record too', async (t: TestContext) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const proxy = await startTestProxy(t, { upstream: new URL(upstream.url), mode: 'replay-or-record' });
  assert.equal(await throughHostile(proxy, 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789'), 'cut');
  assert.deepEqual(await throughHostile(proxy, 'HTTP/1.1 101 Switching Protocols\r\n\r\n'), refused);
  const res = await fetch(`${proxy.baseURL}/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"m","input":"ok"}' });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  await cassetteWith(proxy, 1);
  assert.equal(await metric(proxy, 'cassette_proxy_exchanges_total{mode="replay-or-record",outcome="error",upstream="openai"}'), 2);
  assert.equal(await metric(proxy, 'cassette_proxy_exchanges_total{mode="replay-or-record",outcome="recorded",upstream="openai"}'), 1);
});
