import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventBoundaries, splitEvents } from '../../src/sse.js';

const parts = (text: string) => splitEvents(Buffer.from(text)).map((p) => Buffer.from(p).toString());

test('events split at blank lines, bytes unchanged, for LF, CRLF and named events', () => {
  assert.deepEqual(parts('data: a\n\ndata: b\n\n'), ['data: a\n\n', 'data: b\n\n']);
  assert.deepEqual(parts('event: x\ndata: 1\r\n\r\ndata: 2\r\n\r\n'), ['event: x\ndata: 1\r\n\r\n', 'data: 2\r\n\r\n']);
  assert.deepEqual(parts('data: a\n\ndata: partial'), ['data: a\n\n', 'data: partial']);
  assert.deepEqual(parts(''), []);
});

test('boundaries are found across arbitrary chunk splits', () => {
  const body = 'data: one\n\n: comment\n\nevent: e\ndata: two\n\ndata: [DONE]\n\n';
  for (let size = 1; size < body.length; size++) {
    const scanner = new EventBoundaries();
    let ends = 0;
    for (let i = 0; i < body.length; i += size) scanner.scan(Buffer.from(body.slice(i, i + size)), () => ends++);
    assert.equal(ends, 4, `chunk size ${size}`);
  }
});
