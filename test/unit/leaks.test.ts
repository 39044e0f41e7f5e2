/** The leak finder behind `cassette-proxy scan`: each kind of credential planted in a cassette is found where it is, and redact fixes each finding. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NewInteraction } from '../../src/cassette/types.js';
import { findLeaks } from '../../src/redact/leaks.js';
import { Redactor } from '../../src/redact/redactor.js';
import { makeTestKey } from '../support/fake-upstream.js';

function interaction(request: Partial<NewInteraction['request']> = {}, response: Partial<NewInteraction['response']> = {}): NewInteraction {
  return {
    request: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: 0, host: 'h', url: 'https://h/v1/x', form: {}, headers: {}, body: '', method: 'POST', ...request },
    response: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: -1, status: '200 OK', code: 200, duration: '1ms', headers: {}, body: '', ...response },
  };
}

test('scan finds each kind of credential the redactor knows, where it was planted; redact leaves no finding', () => {
  const key = makeTestKey();
  const cases: [string, NewInteraction][] = [
    ['request.body', interaction({ body: JSON.stringify({ input: `see:\n${key}` }) })],
    ['response.body', interaction({}, { body: `data: ${JSON.stringify({ delta: `x\n${key}` })}\n\n` })],
    ['response.body', interaction({}, { body: '{"client_secret":{"value":"ek_68af296e8e408191a1120ab6383263c2"}}' })],
    ['response.status', interaction({}, { status: `401 invalid key ${key}`, code: 401 })],
    ['response.status', interaction({}, { status: '401 invalid Token 0f3b9a7d2e4c5b6a', code: 401 })],
    ['response.status', interaction({ headers: { 'X-Api-Key': ['plain-credential-77'] } }, { status: '401 invalid plain-credential-77', code: 401 })],
    ['request.body.api_key', interaction({ body: '{"api_key":["k-123456789"]}' })],
    ['request.body.password', interaction({ body: '{"password":{"value":"hunter2hunter2"}}' })],
    ['request.body.api_key', interaction({ body: '--b\r\nContent-Disposition: form-data; name=api_key\r\n\r\nk-123456789\r\n--b--\r\n', headers: { 'Content-Type': ['multipart/form-data; boundary=b'] } })],
    ['request.form.client_secret', interaction({ form: { client_secret: ['cs-123456789'] } })],
    ['request.headers.X-Goog-Api-Key', interaction({ headers: { 'X-Goog-Api-Key': ['AIza-whatever'] } })],
    ['request.headers.X-Portkey-Api-Key', interaction({ headers: { 'X-Portkey-Api-Key': ['pk-123'] } })],
    ['request.headers.Helicone-Auth', interaction({ headers: { 'Helicone-Auth': ['Bearer sk-helicone-1'] } })],
    ['response.body', interaction({ headers: { Authorization: ['Key fal-0123456789abcdef'] } }, { body: 'you sent Key fal-0123456789abcdef' })],
  ];
  for (const [where, planted] of cases) {
    const found = findLeaks(planted);
    assert.ok(found.some((leak) => leak.where === where), `${where} in ${JSON.stringify(planted)}: found ${JSON.stringify(found)}`);
    assert.ok(found.every((leak) => leak.header === undefined), 'the built-in rules fix these: no flag needed');
    assert.deepEqual(findLeaks(new Redactor().redact(planted)), [], `redact fixes ${where}`);
  }
});

test('a header the built-in rules do not know, holding what looks like a credential, comes with the --redact-header flag that fixes it', () => {
  const planted = interaction({ headers: { 'X-Team-Key': ['3f9a7c2e1b8d6a30c4e5'], 'Idempotency-Key': ['stainless-node-retry-6f1c2b7e-0d4a-4f3b-9a8e-1c2d3e4f5a6b'], 'X-Ratelimit-Remaining-Tokens': ['149984'], 'Anthropic-Ratelimit-Tokens-Reset': ['2025-01-01T00:00:30Z'] } });
  assert.deepEqual(findLeaks(planted), [{ where: 'request.headers.X-Team-Key', what: 'what looks like a credential, in a header the built-in rules do not redact', header: 'X-Team-Key' }]);
  assert.equal(findLeaks(new Redactor().redact(planted)).length, 1, 'the built-in rules alone do not fix it');
  assert.deepEqual(findLeaks(new Redactor({ headers: ['X-Team-Key'] }).redact(planted), ['X-Team-Key']), [], 'the flag does');
});

test('a body still in its content coding is a finding scan cannot check: redact decodes gzip, deflate and br (and then masks what was inside); others need recording again', async () => {
  const { brotliCompressSync, deflateRawSync, gzipSync } = await import('node:zlib');
  const { leakLine } = await import('../../src/cli/scan.js');
  const { decodeStoredBody } = await import('../../src/cassette/decode.js');
  const { Redactor } = await import('../../src/redact/redactor.js');
  const key = ['sk', 'proj', 'a'.repeat(32)].join('-');
  const text = `{"echo":"Bearer ${key}"}`;
  for (const [coding, bytes] of [['gzip', gzipSync(text)], ['br', brotliCompressSync(text)], ['deflate', deflateRawSync(text)]] as const) {
    const stored = interaction({}, { headers: { 'Content-Encoding': [coding], 'Content-Length': [String(bytes.length)] }, body: new Uint8Array(bytes) });
    const found = findLeaks(stored);
    assert.deepEqual(found, [{ where: 'response.body', what: 'a compressed body scan cannot check' }], coding);
    assert.equal(leakLine('c.yaml', 3, found[0]!, []), 'c.yaml: interaction 3: response.body holds a compressed body scan cannot check; fix: cassette-proxy redact c.yaml');
    // What redact does: decode (as the recorder stores bodies), then redact; nothing is left to find.
    const fixed = new Redactor().redact(decodeStoredBody(stored as never)!);
    assert.equal(fixed.response.uncompressed, true);
    assert.deepEqual(Object.keys(fixed.response.headers), []);
    assert.ok(!String(fixed.response.body).includes(key), coding);
    assert.deepEqual(findLeaks(fixed), [], coding);
  }
  for (const coding of ['zstd', 'gzip, gzip']) {
    const found = findLeaks(interaction({}, { headers: { 'Content-Encoding': [coding] }, body: new Uint8Array(gzipSync(text)) }));
    assert.deepEqual(found, [{ where: 'response.body', what: `a compressed body scan cannot check (${coding}, which redact cannot decode)`, fix: 'record this interaction again with cassette-proxy' }], coding);
  }
  assert.deepEqual(findLeaks(interaction({}, { headers: { 'Content-Encoding': ['gzip'] }, body: '{"ok":true}', uncompressed: true })), []);
  assert.deepEqual(findLeaks(interaction({}, { headers: { 'Content-Encoding': ['identity'] }, body: '{"ok":true}' })), []);
  assert.deepEqual(findLeaks(interaction({}, { headers: { 'Content-Encoding': ['gzip'] }, body: '' })), []);
});

test('scan finds digest markers clean wherever the redactor puts them, the old bare marker too, even without the --redact-header that made one', () => {
  const digest = '[REDACTED:hmac-sha256:0123456789abcdef]';
  const redacted = interaction(
    { url: `https://h/v1/x?api-key=${encodeURIComponent(digest)}`, form: { 'api-key': [digest] }, headers: { Authorization: [`Bearer ${digest}`], Cookie: [digest], 'X-Team-Key': [digest], 'Api-Key': ['[REDACTED]'] }, body: JSON.stringify({ api_key: digest, password: '[REDACTED]' }) },
    { body: `{"echo":"${digest}"}`, status: `401 bad key ${digest}` },
  );
  assert.deepEqual(findLeaks(redacted), []);
  assert.deepEqual(findLeaks(redacted, ['X-Team-Key']), []);
  const notQuite = interaction({ headers: { Authorization: ['Bearer [REDACTED:hmac-sha256:0123] sk-leftover-0123456789'] } });
  assert.deepEqual(findLeaks(notQuite).map((leak) => leak.where), ['request.headers.Authorization'], 'only a whole marker is clean');
});
