/** Round trip: generated interactions written by the cassette writer and read back by the loader are equal. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CORE_SCHEMA, binaryTag, load } from 'js-yaml';
import { cassetteText, interactionBytes, parseCassette, serializeInteraction } from '../../src/cassette/codec.js';
import { canonicalHeaderKey, formatDuration } from '../../src/cassette/go.js';
import type { Body, HeaderMap, Interaction } from '../../src/cassette/types.js';

const headerName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,20}$/).map(canonicalHeaderKey);
const text = fc.string({ unit: 'binary', maxLength: 200 });
const headers: fc.Arbitrary<HeaderMap> = fc.dictionary(headerName, fc.array(text, { minLength: 1, maxLength: 3 }), { maxKeys: 6 }).map((d) => ({ ...d }));
const body: fc.Arbitrary<Body> = fc.oneof(
  fc.json().map((j) => j),
  text,
  // Line breaks and spaces in every arrangement: the edge cases of literal blocks.
  fc.string({ unit: fc.constantFrom('\n', ' ', 'a', '\t'), maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 300 }).map((s) => `data: ${s}\n\ndata: [DONE]\n\n`),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
);

const interaction: fc.Arbitrary<Interaction> = fc
  .record({
    code: fc.integer({ min: 200, max: 599 }), // a cassette holds final answers only (a 1xx is refused)
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
    path: fc.webPath(),
    requestBody: body,
    requestHeaders: headers,
    responseBody: body,
    responseHeaders: headers,
    nanos: fc.bigInt({ min: 0n, max: 10n ** 13n }),
    chunked: fc.boolean(),
    offsets: fc.option(fc.array(fc.double({ min: 0, max: 1e5, noNaN: true }), { maxLength: 5 }), { nil: undefined }),
  })
  .map((g) => {
    const value: Interaction = {
      id: 0,
      request: {
        proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1,
        content_length: g.requestBody.length,
        host: 'api.openai.com',
        body: g.requestBody,
        headers: g.requestHeaders,
        form: {},
        url: `https://api.openai.com${g.path.startsWith('/') ? g.path : `/${g.path}`}`,
        method: g.method,
      },
      response: {
        proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1,
        transfer_encoding: g.chunked ? ['chunked'] : [],
        content_length: g.chunked ? -1 : g.responseBody.length,
        body: g.responseBody,
        headers: g.responseHeaders,
        status: `${g.code} Something`,
        code: g.code,
        duration: formatDuration(g.nanos),
      },
    };
    if (g.offsets?.length) value.cassette_proxy = { event_offsets_ms: g.offsets };
    return value;
  });

/** What the loader gives for an interaction: missing optional keys read as empty, bodies as bytes or text. */
function normalised(i: Interaction): unknown {
  // An empty body is empty whatever its type: go-vcr omits it and reads it back as "".
  const bytes = (b: Body | undefined) => (!b?.length ? { text: '' } : typeof b === 'string' ? { text: b } : { bytes: Buffer.from(b).toString('base64') });
  return {
    ...i,
    request: { ...i.request, body: bytes(i.request.body), transfer_encoding: i.request.transfer_encoding ?? [], trailer: i.request.trailer ?? {}, remote_addr: i.request.remote_addr ?? '', request_uri: i.request.request_uri ?? '', form: i.request.form ?? {}, headers: i.request.headers ?? {} },
    response: { ...i.response, body: bytes(i.response.body), transfer_encoding: i.response.transfer_encoding ?? [], trailer: i.response.trailer ?? {}, uncompressed: i.response.uncompressed ?? false },
  };
}

test('write then read gives the same interactions (status, headers, JSON, text, SSE and binary bodies)', () => {
  fc.assert(
    fc.property(fc.array(interaction, { minLength: 1, maxLength: 4 }), (generated) => {
      const interactions = generated.map((g, id) => ({ ...g, id }));
      const text = cassetteText(interactions.map(serializeInteraction));
      const back = parseCassette(text, 'generated.yaml').interactions;
      assert.deepEqual(back.map(normalised), interactions.map(normalised));
      // Any YAML reader gets the same values too.
      const plain = load(text, { schema: CORE_SCHEMA.withTags(binaryTag) }) as { version: number; interactions: unknown[] };
      assert.equal(plain.version, 2);
      assert.equal(plain.interactions.length, interactions.length);
      // The ASCII form (what an in-place save writes) holds the same values in ASCII only.
      const ascii = Buffer.concat(interactions.flatMap((i) => [...interactionBytes(i, true)]));
      assert.ok(ascii.every((byte) => byte < 0x80), 'the ASCII form is ASCII');
      const asciiBack = parseCassette(cassetteText([ascii.toString('latin1')]), 'ascii.yaml').interactions;
      assert.deepEqual(asciiBack.map(normalised), interactions.map(normalised));
    }),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 300) },
  );
});
