/**
 * A redaction marker stands for one value: two strings get one marker exactly when they are equal
 * (lone UTF-16 surrogates and look-alike strings included), so a redacted field matches exactly the
 * requests that sent its value; and a marker is what the redactor keeps and scan finds clean.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseJsonPath, type JsonPath } from '../../src/json-path.js';
import { RequestViewer } from '../../src/match/request-view.js';
import { findLeaks } from '../../src/redact/leaks.js';
import { digestMarker, isRedacted } from '../../src/redact/marker.js';
import { Redactor } from '../../src/redact/redactor.js';
import { Hooks } from '../../src/exchange/hooks.js';
import { redaction } from '../../src/redact/redaction.js';

const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));
const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: codeUnit }));
/** Pairs that are often equal or nearly so (one character apart, another case), not only two random strings. */
const pairs = fc.oneof(
  fc.tuple(text, text),
  text.map((a): [string, string] => [a, a]),
  fc.tuple(text, codeUnit, fc.nat()).map(([a, unit, at]): [string, string] => [a, a.slice(0, at % (a.length + 1)) + unit + a.slice(at % (a.length + 1))]),
  text.map((a): [string, string] => [a, a.toUpperCase()]),
);

test('digest(a) == digest(b) exactly when a == b, for the default key and a team key', () => {
  const marks = [digestMarker(), digestMarker('a-team-key-of-some-length')];
  fc.assert(
    fc.property(pairs, ([a, b]) => {
      for (const mark of marks) {
        assert.equal(mark(a) === mark(b), a === b, JSON.stringify([a, b]));
        assert.ok(isRedacted(mark(a)));
      }
      assert.notEqual(marks[0]!(a), marks[1]!(a), 'another key, another digest');
    }),
    { numRuns: 2000 },
  );
});

test('a remembered marker is the one a fresh marker function gives: one function used for thousands of values (5 and "5", keys in any order, its memory turning over)', () => {
  const key = 'a-team-key-of-some-length';
  const shared = digestMarker(key);
  const value = fc.oneof(text, fc.jsonValue(), text.map((a) => [a]), fc.integer().chain((n) => fc.constantFrom<unknown>(n, String(n))));
  fc.assert(
    fc.property(fc.array(value, { minLength: 1, maxLength: 8 }), (values) => {
      for (const v of values) assert.equal(shared(v), digestMarker(key)(v), JSON.stringify(v));
    }),
    { numRuns: 1500 },
  );
  const ab = { a: 1, b: [2, 'x'] };
  assert.equal(shared(ab), shared({ b: [2, 'x'], a: 1 }));
  assert.notEqual(shared(5), shared('5'));
});

test('under --redact-body-field, two requests match exactly when the redacted prompts are equal, and the recording holds the prompt nowhere (nor the answer quoting it)', () => {
  const redactor = new Redactor({ bodyFields: [parseJsonPath('messages[*].content') as JsonPath] });
  const viewer = new RequestViewer({ ignore: [], headers: [], prepare: new Hooks([redaction(redactor)]).beforeMatch });
  const url = 'https://api.openai.com/v1/chat/completions';
  const headers = { 'Content-Type': ['application/json'] };
  const body = (prompt: string): string => JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }] });
  const keyOf = (prompt: string): string => viewer.key(viewer.view('POST', url, headers, Buffer.from(body(prompt))));
  fc.assert(
    fc.property(pairs, ([a, b]) => {
      assert.equal(keyOf(a) === keyOf(b), a === b);
      const recorded = redactor.redact({
        request: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: 0, host: 'h', url, method: 'POST', headers, body: body(a) },
        response: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: -1, status: '200 OK', code: 200, duration: '1ms', headers, body: JSON.stringify({ quoted: `You said ${a}` }) },
      });
      const content: unknown = JSON.parse(recorded.request.body as string).messages[0].content;
      assert.ok(typeof content === 'string' && isRedacted(content));
      // The recording matches the request that made it, and scan finds nothing in it.
      assert.equal(viewer.key(viewer.view('POST', url, headers, recorded.request.body)), keyOf(a));
      assert.deepEqual(findLeaks(recorded), []);
      assert.deepEqual(redactor.redact(recorded), recorded, 'redacting it again changes nothing');
      if (a.length >= 8) assert.ok(!String(recorded.response.body).includes(JSON.stringify(a).slice(1, -1)), 'the answer\'s quote of the prompt is masked');
    }),
    { numRuns: 500 },
  );
});
