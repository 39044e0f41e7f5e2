/**
 * Large cassettes and large request bodies (issue 16): a cassette loads while other requests are
 * answered, and a body above DIGEST_ABOVE is matched by its digest, never parsed, and forwarded
 * whole after a miss in replay-or-record.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import type { IncomingMessage } from 'node:http';
import { cassetteText, serializeInteraction } from '../../src/cassette/codec.js';
import { OFF_THREAD_BYTES } from '../../src/cassette/off-thread.js';
import { DIGEST_ABOVE, readBodyForMatching } from '../../src/read-body.js';
import { FakeUpstream } from '../support/fake-upstream.js';
import { startTestProxy } from '../support/proxy.js';

const interaction = (id: number, body: string) => ({
  id,
  request: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: body.length, host: 'api.openai.com', body, form: {}, headers: { 'Content-Type': ['application/json'] }, url: 'https://api.openai.com/v1/chat/completions', method: 'POST' },
  response: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: -1, body: `{"answer":${id}}`, headers: { 'Content-Type': ['application/json'] }, status: '200 OK', code: 200, duration: '1ms' },
});

const chatBody = (i: number) => JSON.stringify({ model: 'gpt-4o-mini', max_completion_tokens: 200, messages: [{ role: 'system', content: 'You are a support agent for a parcel company. '.repeat(8) }, { role: 'user', content: `Where is parcel number ${i}?` }] });

test('health checks are answered while a large cassette loads', { timeout: 120_000 }, async (t) => {
  const proxy = await startTestProxy(t, { mode: 'replay', upstream: new URL('http://127.0.0.1:9') });
  const count = 8000;
  const text = cassetteText(Array.from({ length: count }, (_, i) => serializeInteraction(interaction(i, chatBody(i)))));
  assert.ok(text.length > 20 * OFF_THREAD_BYTES, 'large enough to be parsed off the event loop');
  await writeFile(path.join(proxy.dir, 'large.yaml'), text);

  let pending = true;
  const replayed = fetch(`${proxy.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-cassette': 'large' }, body: chatBody(count - 1) }).finally(() => (pending = false));
  let answered = 0;
  while (pending) {
    const res = await fetch(`${proxy.url}/_proxy/health`);
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    if (pending) answered++;
  }
  const res = await replayed;
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { answer: count - 1 });
  // Loaded on the event loop in one go, the load let through only the checks answered while the file was read (15 here, against 500 in steps).
  assert.ok(answered >= 100, `${answered} health checks answered while the cassette loaded`);
});

/** A chat request whose message holds `size` bytes, its keys in the order given. */
function largeBody(size: number, modelFirst = true): string {
  const content = 'x'.repeat(size);
  return modelFirst ? JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }) : JSON.stringify({ messages: [{ role: 'user', content }], model: 'gpt-4o-mini' });
}

/** Counts JSON.parse calls on text longer than DIGEST_ABOVE while `t` runs. */
function countLargeParses(t: { after: (fn: () => void) => void }): { count: number } {
  const counter = { count: 0 };
  const parse = JSON.parse;
  JSON.parse = ((text: string, reviver?: Parameters<typeof JSON.parse>[1]) => {
    if (typeof text === 'string' && text.length > DIGEST_ABOVE) counter.count++;
    return parse(text, reviver);
  }) as typeof JSON.parse;
  t.after(() => (JSON.parse = parse));
  return counter;
}

test('a body above the digest size is matched by its bytes, recorded or incoming, and is never parsed', { timeout: 60_000 }, async (t) => {
  const proxy = await startTestProxy(t, { mode: 'replay', upstream: new URL('http://127.0.0.1:9') });
  const body = largeBody(DIGEST_ABOVE + 1024);
  await writeFile(proxy.defaultCassette, cassetteText([serializeInteraction(interaction(0, chatBody(0))), serializeInteraction(interaction(1, body))]));
  const parses = countLargeParses(t);
  const send = (text: string) => fetch(`${proxy.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });

  const hit = await send(body);
  assert.equal(hit.status, 200);
  assert.deepEqual(await hit.json(), { answer: 1 });

  const reordered = await send(largeBody(DIGEST_ABOVE + 1024, false));
  assert.equal(reordered.status, 404, 'above the digest size, JSON key order matters');
  const { error } = (await reordered.json()) as { error: { code: string; message: string } };
  assert.equal(error.code, 'cassette_miss');
  assert.match(error.message, /is compared byte for byte/);
  assert.match(error.message, new RegExp(`got ${Buffer.byteLength(body)} bytes with sha256 [0-9a-f]{12}`));
  assert.equal(parses.count, 0, 'no large body was parsed, recorded or incoming');
});

test('replay-or-record forwards a large body that missed, whole, and records it', { timeout: 60_000 }, async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const proxy = await startTestProxy(t, { mode: 'replay-or-record', upstream: new URL(upstream.url) });
  const body = largeBody(DIGEST_ABOVE + 4096);
  const res = await fetch(`${proxy.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  await res.arrayBuffer();
  assert.equal(res.status, 200);
  const seen = upstream.requests.at(-1)!;
  assert.equal(seen.body.length, Buffer.byteLength(body));
  assert.ok(seen.body.equals(Buffer.from(body)), 'the upstream got the body as sent');
});

/** A request stream sending `chunks` chunks of 1 KiB. */
function requestOf(chunks: number): { req: IncomingMessage; sent: Buffer[] } {
  const stream = new PassThrough();
  const sent = Array.from({ length: chunks }, (_, i) => Buffer.alloc(1024, i));
  for (const chunk of sent) stream.write(chunk);
  stream.end();
  return { req: stream as unknown as IncomingMessage, sent };
}

test('a body above the digest size is not held in replay, and held once, as its chunks, when a miss may forward it', async () => {
  const sha256 = (chunks: Buffer[]) => chunks.reduce((hash, chunk) => hash.update(chunk), createHash('sha256')).digest('hex');
  const replay = requestOf(16);
  const digested = await readBodyForMatching(replay.req, 1 << 20, { digestAbove: 4096, keep: false });
  assert.ok(!Buffer.isBuffer(digested));
  assert.deepEqual(digested, { kind: 'digest', size: 16 * 1024, sha256: sha256(replay.sent), chunks: undefined });

  const forwarding = requestOf(16);
  const kept = await readBodyForMatching(forwarding.req, 1 << 20, { digestAbove: 4096, keep: true });
  assert.ok(!Buffer.isBuffer(kept));
  assert.equal(kept.sha256, sha256(forwarding.sent));
  assert.equal(kept.chunks!.length, 16, 'the chunks as they came, never joined');
  kept.chunks!.forEach((chunk, i) => assert.equal(chunk, forwarding.sent[i]));

  const small = await readBodyForMatching(requestOf(2).req, 1 << 20, { digestAbove: 4096, keep: false });
  assert.ok(Buffer.isBuffer(small) && small.length === 2048, 'a body up to the digest size is read whole');
});
