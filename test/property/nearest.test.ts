/**
 * The index finds what a scan of every recording would: the fewest differing fields (counted on
 * fingerprints), then the recording at the request's own position, then the earliest, among those
 * of the request's endpoint when there are any. Small values from a small vocabulary, so that fields are shared and ties are many.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { fingerprint, type Fingerprint } from '../../src/match/fingerprint.js';
import { NearestIndexBuilder } from '../../src/match/nearest.js';
import { RequestViewer } from '../../src/match/request-view.js';

const leaf = fc.constantFrom<unknown>(0, 1, 'x', 'y', true, null);
const value = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(fc.constantFrom('a', 'b', 'c'), tie('value'), { maxKeys: 3 })),
})).value;
const request = fc.record({
  method: fc.constantFrom('GET', 'POST'),
  path: fc.constantFrom('/v1/a', '/v1/b', '/v1/c'),
  query: fc.constantFrom('', '?n=1', '?n=2', '?n=1&n=2'),
  body: fc.oneof(fc.dictionary(fc.constantFrom('model', 'messages', 'tools', 'n'), value, { maxKeys: 4 }), fc.constant(undefined)),
});

const viewer = new RequestViewer({ ignore: [], headers: [] });
const printOf = (r: { method: string; path: string; query: string; body: unknown }): Fingerprint =>
  fingerprint(viewer.view(r.method, `${r.path}${r.query}`, {}, r.body === undefined ? undefined : Buffer.from(JSON.stringify(r.body))));

/** Every recording compared with the request, field by field. */
function scan(recorded: Fingerprint[], request: Fingerprint, own: number): { position: number; fields: number } | undefined {
  const sameEndpoint = recorded.some((r) => r.endpoint === request.endpoint);
  let best: { position: number; fields: number } | undefined;
  recorded.forEach((r, position) => {
    if (sameEndpoint && r.endpoint !== request.endpoint) return;
    const mine = new Map(r.paths.map((p, i) => [p, r.keys[i]]));
    const theirs = new Map(request.paths.map((p, i) => [p, request.keys[i]]));
    const fields = [...new Set([...mine.keys(), ...theirs.keys()])].filter((p) => mine.get(p) !== theirs.get(p)).length;
    if (!best || fields < best.fields || (fields === best.fields && position === own)) best = { position, fields };
  });
  return best;
}

test('the index finds the nearest recording a scan of all would find', () => {
  fc.assert(
    // The own position: none (-1), or any, past the last recording included.
    fc.property(fc.array(request, { maxLength: 40 }), request, fc.integer({ min: -1, max: 45 }), (recordings, incoming, own) => {
      const builder = new NearestIndexBuilder();
      const prints = recordings.map(printOf);
      prints.forEach((p) => builder.add(p));
      assert.deepEqual(builder.build().nearest(printOf(incoming), own), scan(prints, printOf(incoming), own));
    }),
    { numRuns: 500 },
  );
});

test('ties, made common by drawing recordings from a few requests: the own position, then the earliest, as a scan finds', () => {
  const suite = fc
    .array(request, { minLength: 1, maxLength: 4 })
    .chain((pool) => fc.tuple(fc.array(fc.constantFrom(...pool), { minLength: 1, maxLength: 40 }), fc.oneof(request, fc.constantFrom(...pool))));
  fc.assert(
    fc.property(suite, fc.integer({ min: -1, max: 45 }), ([recordings, incoming], own) => {
      const builder = new NearestIndexBuilder();
      const prints = recordings.map(printOf);
      prints.forEach((p) => builder.add(p));
      assert.deepEqual(builder.build().nearest(printOf(incoming), own), scan(prints, printOf(incoming), own));
    }),
    { numRuns: 500 },
  );
});
