/** The copy of an exchange → an interaction holding what Go's client would: trailers and content_length. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Capture, CapturedResponse } from '../../src/exchange/exchange.js';
import { toInteraction } from '../../src/record/capture.js';
import { findLeaks } from '../../src/redact/leaks.js';
import { Redactor } from '../../src/redact/redactor.js';

function capture(response: Partial<CapturedResponse>, method = 'GET', rawHeaders: string[] = []): Capture {
  return {
    method,
    url: 'https://api.openai.com/v1/files/f/content',
    rawHeaders,
    body: Buffer.alloc(0),
    durationNs: 1_000_000n,
    response: { httpVersionMajor: 1, httpVersionMinor: 1, statusCode: 200, statusMessage: 'OK', rawHeaders: [], body: Buffer.from('ok'), decoded: false, ...response },
  };
}

const chunked = ['Content-Type', 'text/plain', 'Transfer-Encoding', 'chunked'];

test('a chunked answer: trailers in `trailer` under Go names, values as lists, each announced name held; no Trailer header', () => {
  const { response } = toInteraction(
    capture({
      rawHeaders: [...chunked, 'Trailer', 'x-checksum, Server-Timing', 'trailer', 'Content-Length, x-late'],
      rawTrailers: ['x-checksum', 'a', 'X-CHECKSUM', 'b', 'x-undeclared', 'c'],
    }),
  );
  assert.deepEqual(response.trailer, { 'X-Checksum': ['a', 'b'], 'Server-Timing': [], 'X-Late': [], 'X-Undeclared': ['c'] });
  assert.deepEqual(Object.keys(response.headers), ['Content-Type']);
  assert.deepEqual(response.transfer_encoding, ['chunked']);
  assert.equal(response.content_length, -1);
});

test('a Trailer header on an answer that is not chunked stays a header, as Go leaves it', () => {
  const { response } = toInteraction(capture({ rawHeaders: ['Content-Length', '2', 'Trailer', 'X-Checksum'] }));
  assert.equal(response.trailer, undefined);
  assert.deepEqual(response.headers.Trailer, ['X-Checksum']);
  assert.equal(response.content_length, 2);
});

test('content_length as Go holds it: 0 for 204 and 304 whatever they declare, a HEAD its declared length or -1', () => {
  const length = (response: Partial<CapturedResponse>, method?: string) => toInteraction(capture({ body: Buffer.alloc(0), ...response }, method)).response.content_length;
  assert.equal(length({ statusCode: 204, statusMessage: 'No Content' }), 0);
  assert.equal(length({ statusCode: 304, statusMessage: 'Not Modified', rawHeaders: ['Content-Length', '1234'] }), 0);
  assert.equal(length({ statusCode: 304, statusMessage: 'Not Modified', rawHeaders: ['Transfer-Encoding', 'chunked'] }), 0);
  assert.equal(length({ rawHeaders: ['Content-Length', '42'] }, 'HEAD'), 42);
  assert.equal(length({ rawHeaders: ['Transfer-Encoding', 'chunked', 'Content-Length', '42'] }, 'HEAD'), 42);
  assert.equal(length({}, 'HEAD'), -1);
  assert.equal(length({ rawHeaders: ['Content-Length', '0'] }), 0);
  assert.equal(length({ rawHeaders: chunked }), -1);
});

test('a trailer is redacted as a header is: a secret-named one loses its value, an echoed credential is masked, scan names both before', () => {
  const key = `sk-proj-${'A1b2C3d4'.repeat(4)}`;
  const recorded = toInteraction(
    capture({ rawHeaders: [...chunked, 'Trailer', 'X-Api-Key, X-Echo, X-Private'], rawTrailers: ['X-Api-Key', 'upstream-value', 'X-Echo', `you sent Bearer ${key}`, 'X-Private', 'p'] }, 'POST', ['Authorization', `Bearer ${key}`]),
  );
  const found = findLeaks(recorded, ['x-private']).map((leak) => leak.where);
  assert.ok(['response.trailer.X-Api-Key', 'response.trailer.X-Echo', 'response.trailer.X-Private'].every((where) => found.includes(where)), found.join(', '));
  const redacted = new Redactor({ headers: ['X-Private'] }).redact(recorded);
  const trailer = redacted.response.trailer!;
  assert.deepEqual(Object.keys(trailer).sort(), ['X-Api-Key', 'X-Echo', 'X-Private']);
  const marker = '\\[REDACTED:hmac-sha256:[0-9a-f]{16}\\]';
  assert.match(String(trailer['X-Api-Key']), new RegExp(`^${marker}$`));
  assert.match(String(trailer['X-Echo']), new RegExp(`^you sent (Bearer )?${marker}$`));
  assert.match(String(trailer['X-Private']), new RegExp(`^${marker}$`));
  assert.deepEqual(findLeaks(redacted, ['x-private']), []);
});
