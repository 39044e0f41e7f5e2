/**
 * Record mode end to end: the official openai client → the proxy → a fake OpenAI on loopback,
 * then the cassette as any YAML reader sees it.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { utimes, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import type OpenAI from 'openai';
import { parseDuration } from '../../src/cassette/go.js';
import { digestMarker } from '../../src/redact/marker.js';
import {
  AUDIO_BYTES,
  FakeUpstream,
  SEED_TOOL_CALL_STREAM,
  SEED_TURN_ONE_REQUEST,
  makeTestKey,
  sseEvents,
} from '../support/fake-upstream.js';
import { allFiles, cassetteWith, startTestProxy } from '../support/proxy.js';
import { deferred, eventually } from '../support/wait.js';

async function setup(t: import('node:test').TestContext, options: ConstructorParameters<typeof FakeUpstream>[0] = {}) {
  const key = makeTestKey();
  const upstream = await FakeUpstream.start({ apiKey: key, ...options });
  t.after(() => upstream.close());
  const proxy = await startTestProxy(t, { upstream: new URL(upstream.url) });
  return { key, upstream, proxy, client: proxy.client(key) };
}

async function streamToolCall(client: OpenAI) {
  const stream = await client.chat.completions.create({ ...SEED_TURN_ONE_REQUEST, stream: true } as unknown as OpenAI.ChatCompletionCreateParamsStreaming);
  let name = '';
  let args = '';
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    for (const call of chunk.choices[0]?.delta?.tool_calls ?? []) {
      name += call.function?.name ?? '';
      args += call.function?.arguments ?? '';
    }
  }
  return { name, args, chunks };
}

test('a streamed tool call passes through and is recorded in go-vcr shape', async (t) => {
  const { key, proxy, client } = await setup(t);
  const { name, args, chunks } = await streamToolCall(client);
  assert.equal(name, 'add');
  assert.deepEqual(JSON.parse(args), { a: 15, b: 27 });
  assert.equal(chunks, sseEvents(SEED_TOOL_CALL_STREAM).length - 1); // all but [DONE]

  const cassette = await cassetteWith(proxy, 1);
  assert.equal(cassette.version, 2);
  const [interaction] = cassette.interactions;
  assert.equal(interaction.id, 0);
  const { request, response } = interaction;
  assert.equal(request.method, 'POST');
  assert.match(request.url, /^http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions$/);
  assert.equal(request.proto, 'HTTP/1.1');
  assert.equal(request.proto_major, 1);
  assert.equal(request.content_length, Buffer.byteLength(request.body));
  assert.deepEqual(JSON.parse(request.body), { ...SEED_TURN_ONE_REQUEST, stream: true });
  assert.deepEqual(request.headers['Content-Type'], ['application/json']);
  assert.deepEqual(request.headers.Authorization, [`Bearer ${digestMarker()(key)}`], 'the key is its digest, under the default key');
  for (const [header, values] of Object.entries(request.headers)) {
    assert.match(header, /^[A-Z0-9][a-z0-9]*(-[A-Z0-9][a-z0-9]*)*$/, `${header} is in Go's canonical spelling`);
    assert.ok(Array.isArray(values));
  }
  assert.equal(request.headers.Host, undefined);
  assert.equal(request.headers['Content-Length'], undefined);

  assert.equal(response.status, '200 OK');
  assert.equal(response.code, 200);
  assert.equal(response.content_length, -1);
  assert.deepEqual(response.transfer_encoding, ['chunked']);
  assert.equal(response.headers['Transfer-Encoding'], undefined);
  assert.deepEqual(response.headers['Content-Type'], ['text/event-stream; charset=utf-8']);
  assert.deepEqual(response.headers['X-Request-Id'], ['req_fake123']);
  assert.equal(response.body, SEED_TOOL_CALL_STREAM);
  assert.equal(typeof response.duration, 'string');
  assert.notEqual(parseDuration(response.duration), undefined, `${response.duration} is Go duration text`);
  assert.equal(interaction.cassette_proxy.event_offsets_ms.length, sseEvents(SEED_TOOL_CALL_STREAM).length);

  const text = (await allFiles(proxy.dir)).map((f) => f.bytes.toString('latin1')).join('\n');
  assert.ok(!text.includes(key), 'the API key is not in any written file');
});

// A proxy that held events back would deadlock here: the timeout turns that into a failure.
test('each SSE event reaches the client before the upstream sends the next', { timeout: 10_000 }, async (t) => {
  const { upstream, client } = await setup(t);
  const firstChunkSeen = deferred();
  upstream.holdAfterFirstEvent = firstChunkSeen.promise;
  const stream = await client.chat.completions.create({ ...SEED_TURN_ONE_REQUEST, stream: true } as unknown as OpenAI.ChatCompletionCreateParamsStreaming);
  let count = 0;
  // If the proxy held events back, the first chunk would never arrive and this test would time out.
  for await (const chunk of stream) {
    if (count++ === 0) {
      assert.equal(chunk.choices[0]?.delta?.tool_calls?.[0]?.function?.name, 'add');
      firstChunkSeen.resolve();
    }
  }
  assert.ok(count > 1);
});

test('non-streamed chat, a Responses stream, embeddings, binary audio and an upstream error are recorded', async (t) => {
  const { key, upstream, proxy, client } = await setup(t);
  const chat = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] });
  assert.equal(chat.choices[0]?.message.content, 'Hello! How can I help you today?');

  let text = '';
  const events: string[] = [];
  for await (const event of await client.responses.create({ model: 'gpt-4o-mini', input: 'Why cassettes?', stream: true })) {
    events.push(event.type);
    if (event.type === 'response.output_text.delta') text += event.delta;
  }
  assert.equal(text, 'Cassettes make tests fast.');
  assert.equal(events.at(-1), 'response.completed');

  const embedding = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });
  assert.equal(embedding.data[0]?.embedding.length, 3);

  const speech = await client.audio.speech.create({ model: 'gpt-4o-mini-tts', voice: 'alloy', input: 'hi' });
  assert.deepEqual(Buffer.from(await speech.arrayBuffer()), AUDIO_BYTES);

  const denied = proxy.client(key.replace(/.$/, (c) => (c === '0' ? '1' : '0')));
  await assert.rejects(denied.models.retrieve('gpt-4o-mini'), (err: any) => err.status === 401 && /Incorrect API key/.test(err.message));

  const cassette = await cassetteWith(proxy, 5);
  const byPath = (p: string) => cassette.interactions.find((i: any) => i.request.url.endsWith(p));
  assert.deepEqual(
    cassette.interactions.map((i: any) => i.id),
    [0, 1, 2, 3, 4],
  );
  assert.equal(JSON.parse(byPath('/v1/chat/completions').response.body).object, 'chat.completion');
  assert.equal(byPath('/v1/chat/completions').response.content_length, Buffer.byteLength(byPath('/v1/chat/completions').response.body));
  assert.match(byPath('/v1/responses').response.body, /^event: response\.created\ndata: /);
  assert.equal(byPath('/v1/responses').cassette_proxy.event_offsets_ms.length, 8);
  assert.equal(JSON.parse(byPath('/v1/embeddings').response.body).object, 'list');
  const audio = byPath('/v1/audio/speech').response.body;
  assert.ok(audio instanceof Uint8Array, 'audio is stored as !!binary');
  assert.deepEqual(Buffer.from(audio), AUDIO_BYTES);
  const error = byPath('/v1/models/gpt-4o-mini').response;
  assert.equal(error.code, 401);
  assert.equal(error.status, '401 Unauthorized');
  assert.equal(JSON.parse(error.body).error.code, 'invalid_api_key');
  assert.equal(upstream.requests.length, 5);
});

test('a gzip answer reaches the client as sent and is stored decoded', async (t) => {
  const { key, proxy, client } = await setup(t);
  const models = await client.models.list();
  assert.equal(models.data[0]?.id, 'gpt-4o-mini');

  // A raw client that asks for gzip gets the compressed bytes, untouched.
  const raw = await new Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    http
      .get(`${proxy.baseURL}/models`, { headers: { authorization: `Bearer ${key}`, 'accept-encoding': 'gzip' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
  assert.equal(raw.headers['content-encoding'], 'gzip');
  assert.equal(JSON.parse(gunzipSync(raw.body).toString()).data[0].id, 'gpt-4o-mini');

  const cassette = await cassetteWith(proxy, 2);
  for (const { response } of cassette.interactions) {
    assert.equal(typeof response.body, 'string');
    assert.equal(JSON.parse(response.body).object, 'list');
    assert.equal(response.uncompressed, true);
    assert.equal(response.headers['Content-Encoding'], undefined);
    assert.equal(response.headers['Content-Length'], undefined);
    assert.equal(response.content_length, -1);
  }
});

test('an unreachable upstream gives a 502 OpenAI-shaped error naming it, and the proxy keeps serving', async (t) => {
  const closed = await FakeUpstream.start();
  const deadUrl = closed.url;
  await closed.close();
  const proxy = await startTestProxy(t, { upstream: new URL(deadUrl) });
  const res = await fetch(`${proxy.baseURL}/chat/completions`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  assert.equal(res.status, 502);
  assert.equal(res.headers.get('x-should-retry'), 'true', 'an upstream that may come back is worth a retry');
  const body = (await res.json()) as any;
  assert.equal(body.error.code, 'upstream_unreachable');
  assert.equal(body.error.type, 'proxy_error');
  assert.ok(body.error.message.includes(deadUrl), body.error.message);
  assert.match(body.error.message, /ECONNREFUSED/);
  // The official client (here told not to retry) surfaces it as a 502.
  await assert.rejects(proxy.client('k').chat.completions.create({ model: 'm', messages: [] }), (err: any) => err.status === 502);
  const again = await fetch(`${proxy.baseURL}/models`);
  assert.equal(again.status, 502);
  assert.ok(!existsSync(proxy.defaultCassette), 'nothing is recorded for a failed exchange');
});

test('a client that aborts mid-stream aborts the upstream request; nothing is recorded and the proxy keeps serving', async (t) => {
  const { key, upstream, proxy, client } = await setup(t);
  const controller = new AbortController();
  const res = await fetch(`${proxy.baseURL}/slow`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, signal: controller.signal });
  const reader = res.body!.getReader();
  await reader.read();
  controller.abort();
  await eventually(() => assert.equal(upstream.requests.at(-1)?.aborted, true));

  const { name } = await streamToolCall(client);
  assert.equal(name, 'add');
  const cassette = await cassetteWith(proxy, 1);
  assert.match(cassette.interactions[0].request.url, /\/v1\/chat\/completions$/);
});

test('50 concurrent streamed exchanges into one cassette give 50 complete interactions with unique ids', async (t) => {
  const { proxy, client } = await setup(t, { eventSpacingMs: 1 });
  const results = await Promise.all(Array.from({ length: 50 }, () => streamToolCall(client)));
  assert.ok(results.every((r) => r.name === 'add'));
  const cassette = await cassetteWith(proxy, 50);
  assert.deepEqual(
    cassette.interactions.map((i: any) => i.id),
    Array.from({ length: 50 }, (_, i) => i),
  );
  for (const i of cassette.interactions) assert.equal(i.response.body, SEED_TOOL_CALL_STREAM);
});

test('x-cassette picks the file and is not forwarded; a name that leaves the folder gets a 400 and touches nothing', async (t) => {
  const { upstream, proxy, key } = await setup(t);
  const suite = proxy.client(key, { cassette: 'suite-a/chat' });
  await suite.embeddings.create({ model: 'text-embedding-3-small', input: 'x' });
  await cassetteWith(proxy, 1, path.join(proxy.dir, 'suite-a', 'chat.yaml'));
  assert.equal(upstream.requests[0]?.headers['x-cassette'], undefined);

  for (const name of ['../escape', '/etc/passwd', 'a\\b', 'a/../../b', '']) {
    const res = await fetch(`${proxy.baseURL}/embeddings`, {
      method: 'POST',
      headers: { 'x-cassette': name, authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: '{"model":"m","input":"x"}',
    });
    assert.equal(res.status, 400, name);
    const body = (await res.json()) as any;
    assert.equal(body.error.code, 'invalid_cassette_name');
  }
  assert.equal(upstream.requests.length, 1, 'refused requests never reach the upstream');
  assert.ok(!existsSync(path.join(proxy.dir, '..', 'escape.yaml')));
});

test('a query string is recorded in url and, parsed, in form; an urlencoded body joins the form', async (t) => {
  const { key, proxy } = await setup(t);
  const list = await fetch(`${proxy.baseURL}/models?limit=2&after=gpt-4o&limit=3`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(list.status, 200);
  await list.arrayBuffer();
  const form = await fetch(`${proxy.baseURL}/embeddings?dry=1`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'model=text-embedding-3-small&input=hi',
  });
  await form.arrayBuffer();
  const cassette = await cassetteWith(proxy, 2);
  const [get, post] = cassette.interactions;
  assert.match(get.request.url, /\/v1\/models\?limit=2&after=gpt-4o&limit=3$/);
  assert.deepEqual(get.request.form, { limit: ['2', '3'], after: ['gpt-4o'] });
  assert.deepEqual(post.request.form, { dry: ['1'], model: ['text-embedding-3-small'], input: ['hi'] });
});

test('connections to the upstream are kept alive and reused', async (t) => {
  const { upstream, client } = await setup(t);
  for (let i = 0; i < 5; i++) await client.embeddings.create({ model: 'text-embedding-3-small', input: `call ${i}` });
  assert.equal(upstream.requests.length, 5);
  assert.equal(upstream.connections, 1, 'five sequential requests used one upstream connection');
});

test('a temp file left by a killed process is removed, even when its pid is alive again (PID 1 in containers)', async (t) => {
  const { proxy, client } = await setup(t);
  const stale = path.join(proxy.dir, `.default.yaml.${process.pid}.999.tmp`);
  await writeFile(stale, 'half a cassette');
  const hourAgo = new Date(Date.now() - 3600_000);
  await utimes(stale, hourAgo, hourAgo);
  await client.embeddings.create({ model: 'text-embedding-3-small', input: 'x' });
  await cassetteWith(proxy, 1);
  assert.ok(!existsSync(stale));
});
