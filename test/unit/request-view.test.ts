/**
 * JSON nested deeper than MAX_JSON_DEPTH is matched as bytes, on both sides: no walk over a body
 * (matching, fingerprints, differences, redaction) may overflow the stack, and a cassette holding
 * such a request still loads.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cassetteText, parseCassette, serializeInteraction } from '../../src/cassette/codec.js';
import type { Interaction } from '../../src/cassette/types.js';
import { MAX_JSON_DEPTH } from '../../src/json-path.js';
import { differences } from '../../src/match/diff.js';
import { fingerprint } from '../../src/match/fingerprint.js';
import { Hooks } from '../../src/exchange/hooks.js';
import { normalization } from '../../src/match/normalize.js';
import { RequestViewer } from '../../src/match/request-view.js';
import { MatchTable } from '../../src/match/table.js';
import { redaction } from '../../src/redact/redaction.js';
import { Redactor } from '../../src/redact/redactor.js';

const URL_ = 'https://api.openai.com/v1/chat/completions';
const HEADERS = { 'Content-Type': ['application/json'] };
const nested = (depth: number, inner = ''): string => '['.repeat(depth) + inner + ']'.repeat(depth);
const redactor = new Redactor();
const viewer = new RequestViewer({ ignore: [], headers: [], prepare: new Hooks([redaction(redactor)]).beforeMatch });

function recording(id: number, body: string): Interaction {
  return {
    id,
    request: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: body.length, host: 'api.openai.com', body, headers: HEADERS, url: URL_, method: 'POST' },
    response: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: -1, body: `{"id":"r${id}"}`, headers: HEADERS, status: '200 OK', code: 200, duration: '1ms' },
  };
}

test('a body nested 100,000 deep views as bytes, and its key, fingerprint and differences are computed', () => {
  for (const body of [nested(100_000), '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000)]) {
    const view = viewer.view('POST', URL_, HEADERS, Buffer.from(body));
    assert.equal(view.body.kind, 'bytes');
    assert.ok(viewer.key(view).endsWith(body));
    assert.equal(fingerprint(view).paths.at(-1), 'body');
    const other = viewer.view('POST', URL_, HEADERS, Buffer.from('{"model":"m"}'));
    assert.deepEqual(differences(view, other), [`body: recorded ${body.length} bytes, got JSON`]);
  }
});

test(`JSON up to ${MAX_JSON_DEPTH} levels is still JSON; brackets inside strings do not count`, () => {
  assert.equal(viewer.view('POST', URL_, HEADERS, Buffer.from(nested(MAX_JSON_DEPTH))).body.kind, 'json');
  assert.equal(viewer.view('POST', URL_, HEADERS, Buffer.from(nested(MAX_JSON_DEPTH + 1))).body.kind, 'bytes');
  const bracketsInText = JSON.stringify({ content: '['.repeat(5000) + '"\\{' });
  assert.equal(viewer.view('POST', URL_, HEADERS, Buffer.from(bracketsInText)).body.kind, 'json');
});

test('a cassette holding a 100,000-deep request loads, and that request and an ordinary one replay from it', () => {
  const deep = nested(100_000);
  const ordinary = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}';
  const recorded = [recording(0, deep), recording(1, ordinary)].map((interaction) => ({ ...redactor.redact(interaction), id: interaction.id }));
  const cassette = parseCassette(cassetteText(recorded.map((interaction) => serializeInteraction(interaction as Interaction))), 'deep.yaml');
  const table = new MatchTable(cassette.interactions, viewer, 'repeat');
  for (const [body, id] of [[deep, 0], [ordinary, 1]] as const) {
    const view = viewer.view('POST', URL_, HEADERS, Buffer.from(body));
    const found = table.take(viewer.key(view), () => view);
    assert.equal(found.kind === 'hit' && found.interaction.id, id);
  }
});

test('recording refuses a too-deep body that names a secret field (it could not be redacted); matching compares it as bytes', () => {
  const body = nested(2000, '{"api_key":"hunter2-not-a-key-shape"}');
  assert.throws(() => redactor.redact(recording(0, body)), /nests deeper than 1000 levels, so its fields cannot be checked for credentials/);
  assert.equal(viewer.view('POST', URL_, HEADERS, Buffer.from(body)).body.kind, 'bytes');
  // Within the bound the field is redacted as ever.
  const shallow = nested(10, '{"api_key":"hunter2-not-a-key-shape"}');
  assert.ok(!String(redactor.redact(recording(0, shallow)).request.body).includes('hunter2'));
});

test('--match-normalize replaces matches in JSON string values, query values and text bodies with one placeholder; binary bodies and empty matches are left alone', () => {
  const normalizing = new RequestViewer({ ignore: [], headers: [], prepare: new Hooks([normalization([/\d{4}-\d{2}-\d{2}/g, /x|\b/g])]).beforeMatch });
  const json = (date: string) => JSON.stringify({ messages: [{ role: 'user', content: `Today is ${date}.` }], metadata: { day: date }, n: 20260101 });
  const a = normalizing.view('POST', `${URL_}?since=2026-11-25`, {}, Buffer.from(json('2026-11-25')));
  const b = normalizing.view('POST', '/v1/chat/completions?since=2026-11-26', {}, Buffer.from(json('2026-11-26')));
  assert.equal(normalizing.key(a), normalizing.key(b));
  assert.deepEqual(a.query, [['since', '<normalized>']]);
  assert.deepEqual(a.body, { kind: 'json', value: { messages: [{ role: 'user', content: 'Today is <normalized>.' }], metadata: { day: '<normalized>' }, n: 20260101 } });
  assert.notEqual(viewer.key(viewer.view('POST', URL_, {}, Buffer.from(json('2026-11-25')))), viewer.key(viewer.view('POST', URL_, {}, Buffer.from(json('2026-11-26')))));

  const text = normalizing.view('POST', URL_, {}, Buffer.from('as of 2026-11-25, x'));
  assert.deepEqual(text.body, { kind: 'bytes', bytes: Buffer.from('as of <normalized>, <normalized>') });
  const binary = Buffer.from([0xff, 0xfe, ...Buffer.from('2026-11-25')]);
  assert.deepEqual(normalizing.view('POST', URL_, {}, binary).body, { kind: 'bytes', bytes: binary });
});
