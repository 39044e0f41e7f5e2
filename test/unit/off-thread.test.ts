/**
 * Large cassettes are parsed in a worker, which then waits for the next one: a worker used again
 * gives each cassette its own interactions, whether the one before it was sent whole, refused as
 * invalid, or left half-read by its reader.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cassetteText, parseCassetteBytes, serializeInteraction } from '../../src/cassette/codec.js';
import { cassetteBatches } from '../../src/cassette/off-thread.js';
import type { Interaction } from '../../src/cassette/types.js';
import { ProxyError } from '../../src/errors.js';

const interaction = (id: number, answer: string) => ({
  id,
  request: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: 2, host: 'api.openai.com', body: '{}', form: {}, headers: { 'Content-Type': ['application/json'] }, url: `https://api.openai.com/v1/models/m${id}`, method: 'GET' },
  response: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: -1, body: `{"answer":"${answer}"}`, headers: { 'Content-Type': ['application/json'] }, status: '200 OK', code: 200, duration: '1ms' },
});

/** A cassette of `count` interactions, each answering `answer`, as bytes. */
const cassette = (count: number, answer: string): Uint8Array => Buffer.from(cassetteText(Array.from({ length: count }, (_, i) => serializeInteraction(interaction(i, answer)))));

/** Every interaction, read through a worker (threshold 0: whatever the size). */
async function readAll(bytes: Uint8Array, file: string): Promise<Interaction[]> {
  const out: Interaction[] = [];
  for await (const batch of cassetteBatches(bytes, file, 0)) out.push(...batch);
  return out;
}

test('a worker used again gives each cassette its own interactions, after a whole one, an invalid one and one left half-read', { timeout: 30_000 }, async () => {
  const a = cassette(600, 'from a');
  const b = cassette(300, 'from b');
  assert.deepEqual(await readAll(a, 'a.yaml'), parseCassetteBytes(a, 'a.yaml').interactions);
  assert.deepEqual(await readAll(b, 'b.yaml'), parseCassetteBytes(b, 'b.yaml').interactions);

  const broken = Buffer.from('version: 2\ninteractions:\n  - id: 0\n    request: [unclosed\n');
  await assert.rejects(readAll(broken, 'broken.yaml'), (err: unknown) => err instanceof ProxyError && err.code === 'cassette_invalid' && /broken\.yaml/.test(err.message));
  assert.deepEqual(await readAll(b, 'b.yaml'), parseCassetteBytes(b, 'b.yaml').interactions);

  // A reader that stops after the first batch of three.
  for await (const batch of cassetteBatches(a, 'a.yaml', 0)) {
    assert.equal(batch.length, 256);
    break;
  }
  const again = await readAll(b, 'b.yaml');
  assert.equal(again.length, 300);
  assert.ok(again.every((i) => i.response.body === '{"answer":"from b"}'));

  // Two at once: each its own worker.
  const [first, second] = await Promise.all([readAll(a, 'a.yaml'), readAll(b, 'b.yaml')]);
  assert.equal(first.length, 600);
  assert.ok(first.every((i) => i.response.body === '{"answer":"from a"}'));
  assert.equal(second.length, 300);
});
