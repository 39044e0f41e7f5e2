import assert from 'node:assert/strict';
import { isAscii } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { cassetteText, parseCassette, renderInteraction, renderedBytes, serializeInteraction } from '../../src/cassette/codec.js';
import type { Interaction } from '../../src/cassette/types.js';
import { ProxyError } from '../../src/errors.js';
import { fixture } from '../support/paths.js';
import { parseCassetteYaml } from '../support/proxy.js';

const roundTrip = (interactions: Interaction[]) =>
  parseCassette(cassetteText(interactions.map(serializeInteraction)), 'mem.yaml').interactions;

function sample(overrides: Partial<Interaction['response']> = {}): Interaction {
  return {
    id: 0,
    request: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: 2, host: 'api.openai.com', body: '{}', form: {}, headers: { 'Content-Type': ['application/json'] }, url: 'https://api.openai.com/v1/x', method: 'POST' },
    response: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: -1, body: 'ok', headers: {}, status: '200 OK', code: 200, duration: '1.5ms', ...overrides },
  };
}

test('seed.yaml (go-vcr v4, omitempty style) loads', () => {
  const cassette = parseCassette(readFileSync(fixture('seed.yaml'), 'utf8'), 'seed.yaml');
  assert.equal(cassette.interactions.length, 2);
  const [first] = cassette.interactions;
  assert.equal(first!.request.host, '');
  assert.equal(first!.response.proto, 'HTTP/2.0');
  assert.equal(first!.response.content_length, -1);
  assert.equal(first!.response.duration, '852.636542ms');
  assert.ok(String(first!.response.body).endsWith('data: [DONE]\n\n'));
});

test('the every-key go-vcr style with a literal-block SSE body loads', () => {
  const cassette = parseCassette(readFileSync(fixture('govcr-v4-chat-and-model.yaml'), 'utf8'), 'govcr.yaml');
  assert.equal(cassette.interactions.length, 2);
  assert.deepEqual(cassette.interactions[0]!.response.transfer_encoding, ['chunked']);
  assert.ok(String(cassette.interactions[0]!.response.body).endsWith('data: [DONE]\n\n'));
  assert.equal(cassette.interactions[1]!.response.content_length, 82);
});

test('what is written reads back equal, strings that look like other types included', () => {
  const tricky = ['true', '438', 'null', '~', 'yes', '', '- x', ': y', "'q'", '{"a": 1}', 'line\nline\n', 'trail \nx', 'tab\tand\u0007bell'];
  const interaction = sample({ headers: { 'X-Tricky': tricky }, body: 'data: {"a":1}\n\ndata: [DONE]\n\n' });
  assert.deepEqual(roundTrip([interaction])[0], { ...interaction, request: { ...interaction.request, transfer_encoding: [], trailer: {}, remote_addr: '', request_uri: '' }, response: { ...interaction.response, transfer_encoding: [], trailer: {}, uncompressed: false } });
});

test('a body that is not UTF-8 is written as !!binary and comes back byte for byte', () => {
  const bytes = Buffer.from([0xff, 0xfb, 0x90, 0x00, 0x80, 0x41]);
  const text = serializeInteraction(sample({ body: bytes }));
  assert.match(text, /body: !!binary/);
  assert.deepEqual(Buffer.from(roundTrip([sample({ body: bytes })])[0]!.response.body as Uint8Array), bytes);
});

test('the written file starts with ---, keeps go-vcr key order and omits empty optional keys', () => {
  const text = cassetteText([serializeInteraction(sample())]);
  assert.ok(text.startsWith('---\nversion: 2\ninteractions:\n'));
  const keys = Object.keys(parseCassetteYaml(text).interactions[0].response);
  assert.deepEqual(keys, ['proto', 'proto_major', 'proto_minor', 'content_length', 'body', 'headers', 'status', 'code', 'duration']);
  assert.doesNotMatch(text, /transfer_encoding|trailer|remote_addr|uncompressed/);
  assert.equal(cassetteText([]), '---\nversion: 2\ninteractions: []\n');
});

test('a response trailer is written where the go-vcr struct has it, as a map of string lists, and the go-vcr fixture with trailers reads back equal', () => {
  const trailer = { 'Server-Timing': [], 'X-Checksum': ['a', 'b'] };
  const text = cassetteText([serializeInteraction(sample({ transfer_encoding: ['chunked'], trailer }))]);
  const response = parseCassetteYaml(text).interactions[0].response;
  // go-vcr v4 cassette.Response: proto, proto_major, proto_minor, transfer_encoding, trailer (http.Header), content_length, …
  assert.deepEqual(Object.keys(response).slice(0, 6), ['proto', 'proto_major', 'proto_minor', 'transfer_encoding', 'trailer', 'content_length']);
  assert.deepEqual(response.trailer, trailer);
  assert.match(text, /\n {10}Server-Timing: \[\]\n/, 'an announced name never sent is an empty list, as yaml.v3 writes a nil slice');

  const written = parseCassette(readFileSync(fixture('govcr-v4-trailer.yaml'), 'utf8'), 'govcr-trailer.yaml').interactions;
  assert.deepEqual(written[0]!.response.trailer, { 'Repr-Digest': ['sha-256=:ZWiQCBW7TYNmdX2C6/sVHswGd3yAdX2243B8SH3rO8w=:'], 'Server-Timing': [] });
  assert.deepEqual(roundTrip(written), written);
});

test('versions other than an unquoted 2 are refused with the file name', () => {
  for (const version of ['1', '"2"', '3']) {
    assert.throws(
      () => parseCassette(`---\nversion: ${version}\ninteractions: []\n`, 'old.yaml'),
      (err: ProxyError) => err.code === 'cassette_invalid' && err.message.includes('old.yaml') && /version/.test(err.message),
    );
  }
  assert.throws(() => parseCassette('interactions: []\n', 'none.yaml'), /none\.yaml has no version/);
});

test('malformed YAML, aliases and wrong types give an error naming the file and the place', () => {
  assert.throws(() => parseCassette('version: 2\ninteractions: [\n', 'broken.yaml'), (err: Error) => /broken\.yaml is not valid YAML at line 3, column 1: /.test(err.message));
  assert.throws(() => parseCassette('version: 2\na: &x [1]\nb: *x\ninteractions: []\n', 'bomb.yaml'), /bomb\.yaml is not valid YAML/);
  const bad = readFileSync(fixture('govcr-v4-chat-and-model.yaml'), 'utf8').replace('code: 200', 'code: "200"');
  assert.throws(() => parseCassette(bad, 'quoted.yaml'), /quoted\.yaml: interactions\[0\]\.response\.code must be an unquoted integer/);
  assert.throws(() => parseCassette('version: 2\ninteractions:\n- request: {method: GET}\n  response: {code: 200}\n', 'nourl.yaml'), /interactions\[0\]\.request\.url is missing/);
  assert.throws(() => parseCassette('version: 2\ninteractions:\n- request: {method: GET, url: "http://x/"}\n  response: {code: 0}\n', 'zero.yaml'), /zero\.yaml: interactions\[0\]\.response\.code must be an HTTP status from 100 to 999/);
});

test('a text body whose first line starts with a space or a tab says its indentation (Go refuses a tab taken for indentation)', () => {
  for (const body of ['\tx\nnext\n', ' x\nnext\n', '\n\n\tx\nnext\n']) {
    const text = serializeInteraction(sample({ body }));
    assert.match(text, /body: \|2/, JSON.stringify(body));
    assert.equal(roundTrip([sample({ body })])[0]!.response.body, body);
  }
});

test('a rendered interaction writes the same bytes every time, large and binary bodies included (a failed save is written again)', () => {
  const large = `data: ${'Grüße '.repeat(200_000)}\n\n`.repeat(2);
  const oneLine = 'é'.repeat(1_100_000);
  const binary = Uint8Array.from({ length: 3 << 20 }, (_, i) => (i * 7) % 256);
  for (const body of [large, oneLine, binary]) {
    const { id: _, ...interaction } = sample({ body });
    const ascii = renderInteraction(interaction, true);
    for (const lines of [renderInteraction(interaction), ascii]) {
      const first = Buffer.concat([...renderedBytes(lines, 3)]);
      const again = Buffer.concat([...renderedBytes(lines, 3)]);
      assert.ok(first.length > 1 << 20 && first.equals(again), 'written twice, the same bytes');
      assert.deepEqual(parseCassette(cassetteText([first.toString('utf8')]), 'mem.yaml').interactions[0]!.response.body, body);
    }
    assert.ok(isAscii(Buffer.concat([...renderedBytes(ascii, 3)])), 'the ASCII style is ASCII');
  }
});

test('an invalid cassette error names the file, line and reason, never what the file holds', () => {
  const secret = ['sk', 'proj', 'DoNotShowThis0123456789abcdef'].join('-');
  const cases = [
    // A syntax error on the secret's line: js-yaml quotes the lines around it in its own message.
    `version: 2\ninteractions:\n  - request: {url: "${secret}", method: GET\n    response: x: y\n`,
    `version: 2\ninteractions:\n  - request: !<${secret}> {}\n`,
    `version: 2\ninteractions:\n  - request: !${secret}!x {}\n`,
    `version: 2\ninteractions:\n  - request: !${secret}[] {}\n`,
    `version: 2\ninteractions: *${secret}\n`,
    `version: "${secret}"\ninteractions: []\n`,
    `version: 2\ninteractions:\n  - request: {url: "http://x/", method: GET}\n    response: {code: "${secret}"}\n`,
    `version: 2\ninteractions:\n  - request: {url: "http://x/", method: GET}\n    response: {code: 200, uncompressed: "${secret}"}\n`,
  ];
  for (const text of cases) {
    assert.throws(
      () => parseCassette(text, 'leaky.yaml'),
      (err: ProxyError) => err.code === 'cassette_invalid' && err.message.startsWith('cassette leaky.yaml') && !err.message.includes('sk-proj') && !err.message.includes('DoNotShow'),
      text,
    );
  }
  assert.throws(() => parseCassette(cases[0]!, 'leaky.yaml'), /leaky\.yaml is not valid YAML at line 4, column \d+: \w/);
});
