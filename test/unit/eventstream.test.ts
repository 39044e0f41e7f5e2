/** AWS event stream framing: messages found by their length prefix however the bytes arrive, and the framing every profile uses choosing it by the first byte. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageBoundaries, splitMessages } from '../../src/eventstream.js';
import { streams } from '../../src/providers/profile.js';

const STREAMS = streams({ event: ['message_stop'] });
import { eventStreamMessage } from '../support/fake-anthropic.js';

const messages = [eventStreamMessage({ ':event-type': 'chunk' }, '{"bytes":"eyJ0eXBlIjoibWVzc2FnZV9zdGFydCJ9"}'), eventStreamMessage({ ':event-type': 'chunk' }, '{}'), eventStreamMessage({ ':message-type': 'event' }, 'x'.repeat(300))];
const body = Buffer.concat(messages);

test('messages end where their length prefix says, whatever the chunks', () => {
  const expected = messages.map((_, i) => messages.slice(0, i + 1).reduce((n, m) => n + m.length, 0));
  for (let cut = 1; cut < body.length; cut += 7) {
    const ends: number[] = [];
    const scanner = new MessageBoundaries();
    scanner.scan(body.subarray(0, cut), (end) => ends.push(end));
    scanner.scan(body.subarray(cut), (end) => ends.push(cut + end));
    assert.deepEqual(ends, expected, `cut at ${cut}`);
  }
  assert.deepEqual(splitMessages(body).map((m) => Buffer.from(m)), messages);
  // A partial last message is kept, never a byte lost.
  assert.equal(Buffer.concat(splitMessages(body.subarray(0, body.length - 5))).length, body.length - 5);
});

test('the framing of every profile cuts SSE at blank lines and AWS event streams at messages, bytes unchanged', () => {
  assert.ok(STREAMS.isStream('application/vnd.amazon.eventstream'));
  assert.ok(STREAMS.isStream('text/event-stream; charset=utf-8'));
  assert.ok(!STREAMS.isStream('application/json'));
  assert.deepEqual(STREAMS.split(body).map((m) => Buffer.from(m)), messages);
  const sse = Buffer.from('event: message_start\ndata: {}\n\nevent: ping\ndata: {}\n\n');
  assert.deepEqual(STREAMS.split(sse).map((e) => Buffer.from(e).toString()), ['event: message_start\ndata: {}\n\n', 'event: ping\ndata: {}\n\n']);
  const ends: number[] = [];
  const scanner = STREAMS.boundaries();
  scanner.scan(body.subarray(0, 3), (end) => ends.push(end));
  scanner.scan(body.subarray(3), (end) => ends.push(3 + end));
  assert.equal(ends.length, 3);
});
