import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalHeaderKey, formatDuration, parseDuration } from '../../src/cassette/go.js';

test('header names take Go canonical spelling', () => {
  assert.equal(canonicalHeaderKey('x-request-id'), 'X-Request-Id');
  assert.equal(canonicalHeaderKey('CONTENT-TYPE'), 'Content-Type');
  assert.equal(canonicalHeaderKey('x-stainless-os'), 'X-Stainless-Os');
  assert.equal(canonicalHeaderKey('etag'), 'Etag');
  assert.equal(canonicalHeaderKey('openai-organization'), 'Openai-Organization');
  assert.equal(canonicalHeaderKey('bad header'), 'bad header', 'a name with a space is left alone, as Go does');
});

test('durations are written as Go writes them', () => {
  const cases: [bigint, string][] = [
    [0n, '0s'],
    [120n, '120ns'],
    [350_000n, '350µs'],
    [548_792n, '548.792µs'],
    [852_636_542n, '852.636542ms'],
    [2_086_618_375n, '2.086618375s'],
    [90_500_000_000n, '1m30.5s'],
    [3_723_000_000_000n, '1h2m3s'],
    [3_600_000_000_000n, '1h0m0s'],
    [1_000_000n, '1ms'],
  ];
  for (const [nanos, text] of cases) {
    assert.equal(formatDuration(nanos), text);
    assert.equal(parseDuration(text), Number(nanos), text);
  }
});

test('Go duration text parses in every unit spelling, and what Go rejects is rejected', () => {
  assert.equal(parseDuration('350us'), 350_000);
  assert.equal(parseDuration('350\u03bcs'), 350_000);
  assert.equal(parseDuration('1.5h'), 5_400_000_000_000);
  assert.equal(parseDuration('0'), 0);
  assert.equal(parseDuration('-2s'), -2e9);
  for (const bad of ['', '12', 'ms', '1x', '1.2.3s', ' 1s']) assert.equal(parseDuration(bad), undefined, bad);
});
