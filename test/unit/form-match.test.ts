/**
 * Form bodies match by meaning: a multipart upload whatever its boundary, part by part (files by
 * size and digest), an urlencoded form whatever the order of its fields; a body that cannot be read
 * as a form is compared byte for byte, as before.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { cassetteText, parseCassette, serializeInteraction } from '../../src/cassette/codec.js';
import type { Interaction } from '../../src/cassette/types.js';
import { parseJsonPath, type JsonPath } from '../../src/json-path.js';
import { differences } from '../../src/match/diff.js';
import { fingerprint } from '../../src/match/fingerprint.js';
import { RequestViewer, type MatchRules, type RequestView } from '../../src/match/request-view.js';
import { MatchTable } from '../../src/match/table.js';
import { Hooks } from '../../src/exchange/hooks.js';
import { normalization } from '../../src/match/normalize.js';
import { redaction } from '../../src/redact/redaction.js';
import { Redactor } from '../../src/redact/redactor.js';

const URL_ = 'https://api.openai.com/v1/audio/transcriptions';
const PATH = '/v1/audio/transcriptions';
const redactor = new Redactor();
const viewer = new RequestViewer({ ignore: [], headers: [], prepare: new Hooks([redaction(redactor)]).beforeMatch });
const AUDIO = Buffer.from(Array.from({ length: 3244 }, (_, i) => (i * 31 + 7) % 256));

interface Part {
  name: string;
  filename?: string;
  type?: string;
  content: string | Buffer;
}

/** A multipart body as clients write it: each part's headers, a blank line, its content. */
function multipart(boundary: string, parts: Part[]): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const filename = part.filename === undefined ? '' : `; filename="${part.filename}"`;
    const type = part.type === undefined ? '' : `\r\nContent-Type: ${part.type}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"${filename}${type}\r\n\r\n`), Buffer.from(part.content), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

const upload = (audio: Buffer = AUDIO): Part[] => [
  { name: 'model', content: 'whisper-1' },
  { name: 'file', filename: 'speech.wav', type: 'audio/wav', content: audio },
  { name: 'timestamp_granularities[]', content: 'word' },
  { name: 'timestamp_granularities[]', content: 'segment' },
];

const multipartHeaders = (boundary: string) => ({ 'content-type': `multipart/form-data; boundary=${boundary}` });
const view = (body: Buffer, headers: Record<string, string>, using = viewer) => using.view('POST', PATH, headers, body);
const short = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex').slice(0, 12);

test('an upload sent with another boundary, or with its differently named parts in another order, has the same key', () => {
  const recorded = view(multipart('----formdata-undici-012345678901', upload()), multipartHeaders('----formdata-undici-012345678901'));
  assert.equal(recorded.body.kind, 'form');
  const u = upload();
  const reordered = [u[2]!, u[1]!, u[3]!, u[0]!];
  for (const [boundary, parts] of [['----formdata-undici-098765432109', upload()], ['x', upload()], ['other', reordered]] as const) {
    const got = view(multipart(boundary, parts), { 'Content-Type': `multipart/form-data; boundary="${boundary}"` });
    assert.equal(viewer.key(got), viewer.key(recorded), boundary);
    assert.deepEqual(differences(recorded, got), []);
  }
  // Parts of one name keep their order: the API reads them as a list.
  const swapped = upload();
  [swapped[2], swapped[3]] = [swapped[3]!, swapped[2]!];
  const got = view(multipart('x', swapped), multipartHeaders('x'));
  assert.notEqual(viewer.key(got), viewer.key(recorded));
  assert.deepEqual(differences(recorded, got), ['body["timestamp_granularities[]"]: recorded "word", got "segment"', 'body["timestamp_granularities[]"][1]: recorded "segment", got "word"']);
});

test('two FormData bodies built alike by the platform (random boundaries) have the same key', async () => {
  const build = async (): Promise<{ headers: Record<string, string>; body: Buffer }> => {
    const form = new FormData();
    form.append('purpose', 'assistants');
    form.append('file', new Blob([AUDIO], { type: 'application/octet-stream' }), 'data.bin');
    const request = new Request('http://x.invalid/', { method: 'POST', body: form });
    return { headers: { 'content-type': request.headers.get('content-type')! }, body: Buffer.from(await request.arrayBuffer()) };
  };
  const [a, b] = [await build(), await build()];
  assert.notEqual(a.headers['content-type'], b.headers['content-type']);
  assert.equal(viewer.key(view(a.body, a.headers)), viewer.key(view(b.body, b.headers)));
});

test('a different file misses, and the difference names the part with both sizes and digests', () => {
  const other = Buffer.concat([AUDIO, Buffer.from('more')]);
  const recorded = view(multipart('a', upload()), multipartHeaders('a'));
  const got = view(multipart('b', upload(other)), multipartHeaders('b'));
  assert.notEqual(viewer.key(got), viewer.key(recorded));
  assert.deepEqual(differences(recorded, got), [
    `body.file: recorded file "speech.wav" (audio/wav, 3244 bytes, sha256 ${short(AUDIO)}), got file "speech.wav" (audio/wav, 3248 bytes, sha256 ${short(other)})`,
  ]);
  // Same size, one byte changed: the digests tell them apart.
  const flipped = Buffer.from(AUDIO);
  flipped[100] ^= 1;
  const [line] = differences(recorded, view(multipart('c', upload(flipped)), multipartHeaders('c')));
  assert.equal(line, `body.file: recorded file "speech.wav" (audio/wav, 3244 bytes, sha256 ${short(AUDIO)}), got file "speech.wav" (audio/wav, 3244 bytes, sha256 ${short(flipped)})`);
});

test('filename, content type, a text field and a missing part each differ as one line and one fingerprint field', () => {
  const recorded = view(multipart('a', upload()), multipartHeaders('a'));
  const changed = upload();
  changed[0] = { name: 'model', content: 'gpt-4o-transcribe' };
  changed[1] = { ...changed[1]!, filename: 'other.wav', type: 'audio/x-wav' };
  changed.push({ name: 'language', content: 'en' });
  const got = view(multipart('b', changed), multipartHeaders('b'));
  assert.deepEqual(differences(recorded, got), [
    `body.file: recorded file "speech.wav" (audio/wav, 3244 bytes, sha256 ${short(AUDIO)}), got file "other.wav" (audio/x-wav, 3244 bytes, sha256 ${short(AUDIO)})`,
    'body.model: recorded "whisper-1", got "gpt-4o-transcribe"',
    'body.language: recorded nothing, got "en"',
  ]);
  const fields = (view: RequestView) => {
    const print = fingerprint(view);
    return new Map(print.paths.map((path, i) => [path, print.keys[i]]));
  };
  const [a, b] = [fields(recorded), fields(got)];
  const differing = [...new Set([...a.keys(), ...b.keys()])].filter((path) => a.get(path) !== b.get(path));
  assert.deepEqual(differing.sort(), ['body.file', 'body.language', 'body.model']);
});

test('a JSON field matches by meaning, and a difference inside it is named field by field', () => {
  const parts = (metadata: string): Part[] => [{ name: 'metadata', type: 'application/json', content: metadata }, ...upload()];
  const recorded = view(multipart('a', parts('{"case": "A", "n": 1}')), multipartHeaders('a'));
  assert.equal(viewer.key(view(multipart('b', parts('{"n":1,"case":"A"}')), multipartHeaders('b'))), viewer.key(recorded));
  assert.deepEqual(differences(recorded, view(multipart('b', parts('{"n":2,"case":"A"}')), multipartHeaders('b'))), ['body.metadata.n: recorded 1, got 2']);
});

test('an urlencoded form matches whatever the order of its fields and however a space is escaped', () => {
  const headers = { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' };
  const recorded = view(Buffer.from('grant_type=client&scope=read+write&audience=a%2Fb'), headers);
  assert.deepEqual(recorded.body, { kind: 'form', encoding: 'urlencoded', parts: [
    { name: 'audience', content: { kind: 'text', text: 'a/b' } },
    { name: 'grant_type', content: { kind: 'text', text: 'client' } },
    { name: 'scope', content: { kind: 'text', text: 'read write' } },
  ] });
  assert.equal(viewer.key(view(Buffer.from('audience=a/b&scope=read%20write&grant_type=client'), headers)), viewer.key(recorded));
  assert.deepEqual(differences(recorded, view(Buffer.from('audience=a/b&scope=read&grant_type=client'), headers)), ['body.scope: recorded "read write", got "read"']);
  // Values of one name keep their order; a percent-escape that is not UTF-8 is compared as bytes.
  assert.notEqual(viewer.key(view(Buffer.from('a=1&a=2'), headers)), viewer.key(view(Buffer.from('a=2&a=1'), headers)));
  assert.equal(view(Buffer.from('a=%FF'), headers).body.kind, 'bytes');
  assert.notEqual(viewer.key(view(Buffer.from('a=%FF'), headers)), viewer.key(view(Buffer.from('a=%FE'), headers)));
  // A JSON body sent with the form type (curl -d '{…}') still matches as JSON.
  assert.equal(view(Buffer.from('{"model":"m"}'), headers).body.kind, 'json');
});

test('malformed multipart falls back to byte comparison and never throws', () => {
  const good = multipart('b', upload());
  const cases: [string, Buffer, Record<string, string>][] = [
    ['no boundary parameter', good, { 'content-type': 'multipart/form-data' }],
    ['another boundary than the body', good, multipartHeaders('c')],
    ['cut before the closing delimiter', good.subarray(0, good.length - 8), multipartHeaders('b')],
    ['a part without a name', Buffer.from('--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--\r\n'), multipartHeaders('b')],
    ['a part without Content-Disposition', Buffer.from('--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n'), multipartHeaders('b')],
    ['garbage after a delimiter', Buffer.from('--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--bX\r\n--b--\r\n'), multipartHeaders('b')],
    ['an unreadable parameter', good, { 'content-type': 'multipart/form-data; boundary=b; charset' }],
  ];
  for (const [what, body, headers] of cases) {
    const got = view(body, headers);
    assert.equal(got.body.kind, 'bytes', what);
    assert.ok(viewer.key(got).endsWith(body.toString('latin1')), what);
  }
  // Every prefix of an upload views without throwing; only one that holds the closing delimiter is a form.
  for (let end = 0; end < good.length - 2; end++) assert.equal(view(good.subarray(0, end), multipartHeaders('b')).body.kind, 'bytes');
  assert.equal(view(good, multipartHeaders('b')).body.kind, 'form');
  // A preamble and an epilogue are no part of the form; transport padding after a delimiter is allowed.
  const padded = Buffer.concat([Buffer.from('preamble\r\n'), Buffer.from(good.toString('latin1').replace('--b\r\n', '--b  \r\n'), 'latin1'), Buffer.from('epilogue')]);
  assert.equal(viewer.key(view(padded, multipartHeaders('b'))), viewer.key(view(good, multipartHeaders('b'))));
});

test('--match-normalize applies to text fields, JSON fields and urlencoded values, never to file bytes', () => {
  const normalizing = new RequestViewer({ ignore: [], headers: [], prepare: new Hooks([normalization([/\d{4}-\d{2}-\d{2}/g])]).beforeMatch });
  const parts = (date: string, file: string): Part[] => [
    { name: 'prompt', content: `Recorded on ${date}` },
    { name: 'meta', content: JSON.stringify({ day: date }) },
    { name: 'file', filename: `notes-${date}.txt`, type: 'text/plain', content: file },
  ];
  const recorded = view(multipart('a', parts('2026-11-25', 'same')), multipartHeaders('a'), normalizing);
  assert.equal(normalizing.key(view(multipart('b', parts('2026-11-26', 'same')), multipartHeaders('b'), normalizing)), normalizing.key(recorded));
  const got = view(multipart('b', parts('2026-11-26', 'file of 2026-11-26')), multipartHeaders('b'), normalizing);
  assert.deepEqual(differences(recorded, got).map((line) => line.split(':')[0]), ['body.file']);
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  assert.equal(normalizing.key(view(Buffer.from('since=2026-11-25'), form, normalizing)), normalizing.key(view(Buffer.from('since=2026-11-26'), form, normalizing)));
  assert.notEqual(viewer.key(view(Buffer.from('since=2026-11-25'), form)), viewer.key(view(Buffer.from('since=2026-11-26'), form)));
});

test('--match-ignore NAME leaves a form field out (every part of that name); a longer path reaches into a JSON field', () => {
  const paths = (...texts: string[]): JsonPath[] => texts.map((text) => parseJsonPath(text) as JsonPath);
  const rules: MatchRules = { ignore: paths('request_id', 'meta.run'), headers: [] };
  const ignoring = new RequestViewer(rules);
  const parts = (id: string, run: number): Part[] => [...upload(), { name: 'request_id', content: id }, { name: 'meta', content: JSON.stringify({ run, case: 'x' }) }];
  const a = view(multipart('a', parts('r1', 1)), multipartHeaders('a'), ignoring);
  assert.equal(ignoring.key(view(multipart('b', parts('r2', 2)), multipartHeaders('b'), ignoring)), ignoring.key(a));
  assert.notEqual(viewer.key(view(multipart('a', parts('r1', 1)), multipartHeaders('a'))), viewer.key(view(multipart('b', parts('r2', 1)), multipartHeaders('b'))));
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  assert.equal(ignoring.key(view(Buffer.from('q=1&request_id=a'), form, ignoring)), ignoring.key(view(Buffer.from('request_id=b&q=1'), form, ignoring)));
});

test('a part named like a credential is redacted on both sides and the upload still matches as a form', () => {
  const parts = (key: string): Part[] => [{ name: 'api_key', content: key }, ...upload()];
  const recorded = view(multipart('a', parts('hunter2-credential')), multipartHeaders('a'));
  assert.equal(recorded.body.kind, 'form');
  const apiKey = recorded.body.kind === 'form' ? recorded.body.parts.find((p) => p.name === 'api_key') : undefined;
  assert.ok(apiKey && !JSON.stringify(apiKey).includes('hunter2'));
  assert.equal(viewer.key(view(multipart('b', parts('hunter2-credential')), multipartHeaders('b'))), viewer.key(recorded));
});

function recording(id: number, body: Buffer, boundary: string): Interaction {
  const headers = { 'Content-Type': [`multipart/form-data; boundary=${boundary}`] };
  return {
    id,
    request: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: body.length, host: 'api.openai.com', body, headers, url: URL_, method: 'POST' },
    response: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: -1, body: `{"text":"r${id}"}`, headers: { 'Content-Type': ['application/json'] }, status: '200 OK', code: 200, duration: '1ms' },
  };
}

test('a binary upload saved in a cassette (!!binary) hits an upload with another boundary; a different file is the nearest by one field', () => {
  const other = Buffer.from(AUDIO).reverse();
  const saved = [recording(0, multipart('r0', upload()), 'r0'), recording(1, multipart('r1', [{ name: 'model', content: 'whisper-1' }]), 'r1')];
  const text = cassetteText(saved.map((interaction) => serializeInteraction({ ...redactor.redact(interaction), id: interaction.id })));
  assert.match(text, /!!binary/);
  const table = new MatchTable(parseCassette(text, 'uploads.yaml').interactions, viewer, 'repeat');
  const hit = view(multipart('in', upload()), multipartHeaders('in'));
  const found = table.take(viewer.key(hit), () => hit);
  assert.equal(found.kind === 'hit' && found.interaction.id, 0);
  const miss = view(multipart('in', upload(other)), multipartHeaders('in'));
  const missed = table.take(viewer.key(miss), () => miss);
  assert.equal(missed.kind, 'miss');
  const near = missed.kind === 'miss' ? missed.nearest() : undefined;
  assert.equal(near?.interaction.id, 0);
  assert.equal(near?.fields, 1);
  assert.deepEqual(near?.differences().map((line) => line.split(':')[0]), ['body.file']);
});
