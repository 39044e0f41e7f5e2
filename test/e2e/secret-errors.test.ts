/**
 * No credential a request carries shows in an error body, a log line or a metric: a replay miss
 * (its message names what differed), a cassette name that is really a key, an unreachable upstream.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../src/log.js';
import { ANY_CREDENTIAL } from '../../src/redact/marker.js';
import { FakeUpstream, makeTestKey } from '../support/fake-upstream.js';
import { cassetteWith, startTestProxy } from '../support/proxy.js';
import { eventually } from '../support/wait.js';

/** A logger at debug level whose lines are kept for the test to read. */
function capturedLog(): { log: ReturnType<typeof createLogger>; text: () => string } {
  let text = '';
  const sink = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { log: createLogger('debug', sink), text: () => text };
}

function credentials() {
  const key = makeTestKey();
  return {
    key,
    ephemeral: 'ek_68af296e8e408191a1120ab6383263c2',
    arrayField: 'array-field-credential-42',
    objectField: 'object-field-credential-43',
    keyScheme: 'key-scheme-credential-44',
    gateway: 'gateway-credential-45',
    query: 'query-credential-46',
  };
}

/** A chat request carrying every kind of credential, in a prompt after a JSON escape, in fields, headers and the query. */
function leakyRequest(c: ReturnType<typeof credentials>, question: string): { query: string; init: RequestInit } {
  const body = {
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: `${question}\nmy key is\n${c.key} and ${c.ephemeral}` }],
    api_key: [c.arrayField],
    password: { value: c.objectField },
  };
  return {
    query: `?key=${c.query}`,
    init: { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Key ${c.keyScheme}`, 'x-goog-api-key': c.gateway }, body: JSON.stringify(body) },
  };
}

function assertNoCredential(text: string, c: ReturnType<typeof credentials>, where: string): void {
  for (const [kind, value] of Object.entries(c)) assert.ok(!text.includes(value), `${where} holds the ${kind} credential:\n${text}`);
}

test('a replay miss, its log lines and the metrics never show a credential the request carried', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const c = credentials();
  const recorder = await startTestProxy(t, { upstream: new URL(upstream.url) });
  const recorded = leakyRequest(c, 'What is 15 + 27?');
  assert.equal((await fetch(`${recorder.baseURL}/chat/completions${recorded.query}`, recorded.init)).status, 200);
  await cassetteWith(recorder, 1);

  const { log, text } = capturedLog();
  const player = await startTestProxy(t, { mode: 'replay', upstream: new URL('http://127.0.0.1:9'), cassetteDir: recorder.dir, matchHeaders: ['authorization', 'x-goog-api-key'] }, log);
  const hit = await fetch(`${player.baseURL}/chat/completions${recorded.query}`, recorded.init);
  assert.equal(hit.status, 200, 'the request that was recorded matches its redacted recording');
  await hit.arrayBuffer();

  const other = leakyRequest(c, 'What is 2 + 2?');
  const miss = await fetch(`${player.baseURL}/chat/completions${other.query}`, other.init);
  assert.equal(miss.status, 404);
  const body = await miss.text();
  // In matching, a credential outside a matched header stands for any credential.
  assert.ok(JSON.parse(body).error.message.includes(`body.messages[0].content: recorded "What is 15 + 27?\\nmy key is\\n${ANY_CREDENTIAL} and ${ANY_CREDENTIAL}", got "What is 2 + 2?`), body);
  assertNoCredential(body, c, 'the miss message');

  const inPath = await fetch(`${player.baseURL}/files/${c.key}/content`);
  assert.equal(inPath.status, 404);
  assertNoCredential(await inPath.text(), c, 'a miss on a path holding a key');

  // One line per exchange (a miss's carries its explanation).
  await eventually(() => assert.equal((text().match(/"outcome":"/g) ?? []).length, 3));
  assert.match(text(), /no recording in .* matches POST \/v1\/chat\/completions/);
  assertNoCredential(text(), c, 'the log');
  assertNoCredential(await (await fetch(`${player.url}/_proxy/metrics`)).text(), c, 'the metrics');
});

test('a cassette name shaped like a credential is refused without being repeated, in the answer or the log', async (t) => {
  const { log, text } = capturedLog();
  const c = credentials();
  const proxy = await startTestProxy(t, { mode: 'replay', upstream: new URL('http://127.0.0.1:9') }, log);
  for (const name of [c.key, `Bearer ${c.key}`, `tests\\${c.ephemeral}`]) {
    const res = await fetch(`${proxy.baseURL}/models`, { headers: { 'x-cassette': name } });
    assert.equal(res.status, 400);
    const error = JSON.parse(await res.text()).error;
    assert.equal(error.code, 'invalid_cassette_name');
    assert.match(error.message, /looks like an OpenAI (ephemeral )?key/);
    assertNoCredential(JSON.stringify(error), c, 'the error');
  }
  await eventually(() => assert.equal((text().match(/"msg":"exchange failed"/g) ?? []).length, 3));
  assertNoCredential(text(), c, 'the log');
});

test('an unreachable upstream: the error body and the log lines show no credential the request carried', async (t) => {
  const { log, text } = capturedLog();
  const c = credentials();
  const proxy = await startTestProxy(t, { upstream: new URL('http://127.0.0.1:9') }, log);
  const request = leakyRequest(c, 'hi');
  const res = await fetch(`${proxy.baseURL}/files/${c.key}${request.query}`, request.init);
  assert.equal(res.status, 502);
  assertNoCredential(await res.text(), c, 'the error body');
  await eventually(() => assert.match(text(), /"msg":"exchange failed"/));
  assert.match(text(), /upstream could not be reached/);
  assertNoCredential(text(), c, 'the log');
});
