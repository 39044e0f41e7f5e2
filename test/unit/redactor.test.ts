import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NewInteraction } from '../../src/cassette/types.js';
import { parseJsonPath, type JsonPath } from '../../src/json-path.js';
import { digestMarker } from '../../src/redact/marker.js';
import { Redactor } from '../../src/redact/redactor.js';
import { splitEvents } from '../../src/sse.js';
import { makeTestKey } from '../support/fake-upstream.js';

/** Markers under the default key: what the redactor writes when no --redact-key is set. */
const mark = digestMarker();

function interaction(key: string): NewInteraction {
  return {
    request: {
      proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: 0, host: 'h',
      url: `https://h/v1/x?api-key=${key}&model=m`,
      form: { 'api-key': [key], model: ['m'] },
      headers: { Authorization: [`Bearer ${key}`], 'X-Custom-Token': ['tok-123456789'], 'X-Echo': [`copy ${key}`], Cookie: ['session=abcdef123456'] },
      body: JSON.stringify({ note: `my key is ${key}`, other: 'sk-short' }),
      method: 'POST',
    },
    response: {
      proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: -1, status: '200 OK', code: 200, duration: '1ms',
      headers: { 'Set-Cookie': ['session=abcdef123456; HttpOnly'] },
      body: Buffer.concat([Buffer.from([0xff, 0x00]), Buffer.from(`echo abcdef123456 ${key}`)]),
    },
  };
}

test('secret headers keep their name, lose their value; the literal secrets vanish everywhere else', () => {
  const key = makeTestKey();
  const input = interaction(key);
  const out = new Redactor({ headers: ['x-custom-token'] }).redact(input);
  const text = JSON.stringify(out) + Buffer.from(out.response.body as Uint8Array).toString('latin1');
  assert.ok(!text.includes(key));
  assert.ok(!text.includes('abcdef123456'), 'cookie values are masked wherever they appear');
  assert.ok(!text.includes('tok-123456789'), '--redact-header adds to the list');
  assert.deepEqual(out.request.headers!.Authorization, [`Bearer ${mark(key)}`], 'the scheme stays, the key becomes its marker');
  assert.deepEqual(out.request.headers!['X-Echo'], [`copy ${mark(key)}`], 'an echo gets the same marker');
  assert.deepEqual(out.request.form!.model, ['m']);
  assert.match(out.request.url, /model=m/);
  assert.ok(String(out.request.body).includes('sk-short'), 'short sk- words are not keys');
  assert.equal((out.response.body as Uint8Array)[0], 0xff, 'binary bodies stay binary');
  assert.match(input.request.headers!.Authorization![0]!, /^Bearer sk-/, 'the input is not changed');
});

test('an sk- key the client never sent is masked too (for example echoed by a response)', () => {
  const stranger = makeTestKey();
  const input = interaction(makeTestKey());
  input.response.body = `{"error":"bad key ${stranger}"}`;
  assert.ok(!String(new Redactor().redact(input).response.body).includes(stranger));
});

/** A request with the given headers and body, and a response; the shape the recorder builds. */
function exchangeWith(request: Partial<NewInteraction['request']>, response: Partial<NewInteraction['response']> = {}): NewInteraction {
  const base = interaction('unused-unused-unused');
  return {
    request: { ...base.request, url: 'https://h/v1/x', form: {}, headers: {}, body: '', ...request },
    response: { ...base.response, headers: {}, body: '', ...response },
  };
}

const textOf = (i: NewInteraction): string =>
  JSON.stringify(i) + [i.request.body, i.response.body].map((b) => (typeof b === 'string' ? b : Buffer.from(b!).toString('latin1'))).join('');

test('an sk- or ek_ key right after a JSON escape is masked, in a request body and inside an SSE stream', () => {
  const key = makeTestKey();
  const ephemeral = `ek_${'68af296e8e408191a1120ab6383263c2'}`;
  const prompt = JSON.stringify({ input: `line one\n${key}\tand\u0022${ephemeral}` });
  assert.ok(prompt.includes(`\\n${key}`), 'the key follows a JSON escape');
  const sse = `data: ${JSON.stringify({ delta: `here:\n${key}` })}\n\ndata: ${JSON.stringify({ client_secret: { value: ephemeral } })}\n\n`;
  const out = new Redactor().redact(exchangeWith({ body: prompt }, { body: sse, headers: { 'Content-Type': ['text/event-stream'] } }));
  const text = textOf(out);
  assert.ok(!text.includes(key) && !text.includes(ephemeral), text);
  assert.equal(out.response.body, `data: {"delta":"here:\\n${mark(key)}"}\n\ndata: {"client_secret":{"value":"${mark(ephemeral)}"}}\n\n`);
});

test('a credential the upstream echoes in the response status line is masked', () => {
  const key = makeTestKey();
  const token = 'tok_4f9a7c2e1b8d6a30';
  const out = new Redactor().redact(exchangeWith({ headers: { 'X-Goog-Api-Key': [token] } }, { status: `401 bad key ${token} or ${key}`, code: 401 }));
  assert.equal(out.response.status, `401 bad key ${mark(token)} or ${mark(key)}`);
});

test('secret-named JSON fields holding an array or an object are redacted whole, and their strings masked where echoed', () => {
  const body = JSON.stringify({ model: 'm', api_key: ['first-key-123456', 'second-key-7890'], auth: { password: { value: 'hunter2hunter2', note: 'n' } } });
  const out = new Redactor().redact(exchangeWith({ body }, { body: 'echo first-key-123456 second-key-7890 hunter2hunter2' }));
  assert.deepEqual(JSON.parse(out.request.body as string), { model: 'm', api_key: mark(['first-key-123456', 'second-key-7890']), auth: { password: mark({ value: 'hunter2hunter2', note: 'n' }) } });
  assert.equal(out.response.body, `echo ${mark('first-key-123456')} ${mark('second-key-7890')} ${mark('hunter2hunter2')}`);
});

test('multipart parts named without quotes (or in single quotes) are redacted', () => {
  const boundary = 'b0undary';
  const part = (name: string, value: string): string => `--${boundary}\r\nContent-Disposition: form-data; name=${name}\r\n\r\n${value}\r\n`;
  const body = `${part('model', 'whisper-1')}${part('api_key', 'unquoted-secret-1')}${part("'password'", 'quoted-secret-22')}--${boundary}--\r\n`;
  const out = new Redactor().redact(exchangeWith({ body, headers: { 'Content-Type': [`multipart/form-data; boundary=${boundary}`] } }));
  assert.ok(!textOf(out).includes('unquoted-secret-1') && !textOf(out).includes('quoted-secret-22'));
  assert.ok(String(out.request.body).includes('whisper-1'));
});

test('an Authorization value with any scheme (Key, Token, Basic, ApiKey) is a secret, echoed anywhere', () => {
  for (const scheme of ['Key', 'Token', 'Basic', 'ApiKey', 'Bearer']) {
    const credential = `c${scheme}-0f3b9a7d2e4c`;
    const out = new Redactor().redact(exchangeWith({ headers: { Authorization: [`${scheme} ${credential}`] } }, { status: `401 ${credential}`, body: `{"error":"invalid ${credential}"}` }));
    assert.ok(!textOf(out).includes(credential), scheme);
  }
});

test('gateway and provider key headers are redacted', () => {
  const headers = { 'X-Goog-Api-Key': ['g-secret-0001'], 'X-Portkey-Api-Key': ['p-secret-0002'], 'Helicone-Auth': ['Bearer h-secret-0003'], 'X-Portkey-Virtual-Key': ['v-secret-0004'] };
  const out = new Redactor().redact(exchangeWith({ headers }, { body: 'g-secret-0001 p-secret-0002 h-secret-0003 v-secret-0004' }));
  for (const name of Object.keys(headers)) assert.deepEqual(out.request.headers![name], name === 'Helicone-Auth' ? [`Bearer ${mark('h-secret-0003')}`] : [mark(headers[name as keyof typeof headers][0])], name);
  assert.equal(out.response.body, ['g-secret-0001', 'p-secret-0002', 'h-secret-0003', 'v-secret-0004'].map(mark).join(' '));
});

test('an AWS SigV4 Authorization: SignedHeaders names are not secrets (a binary event stream stays byte for byte), the signature and key id are', () => {
  const signature = 'a1'.repeat(32);
  const auth = `AWS4-HMAC-SHA256 Credential=AKIAABCDEFGHIJ234567/20240101/us-east-1/bedrock/aws4_request, SignedHeaders=accept;content-type;host;x-amz-date, Signature=${signature}`;
  const stream = Buffer.concat([Buffer.from([0, 0, 0, 0x7f, 0xff]), Buffer.from(':content-type\x07\x00\x10application/json:event-type chunk x-amz-date host accept'), Buffer.from([0xc0, 0xff, 0xee])]);
  const out = new Redactor().redact(exchangeWith({ headers: { Authorization: [auth], 'X-Amz-Date': ['20240101T000000Z'] } }, { body: stream, status: `403 Signature ${signature} for AKIAABCDEFGHIJ234567` }));
  assert.ok(Buffer.from(out.response.body as Uint8Array).equals(stream), 'the event stream is untouched');
  assert.equal(out.response.status, `403 Signature ${mark(signature)} for ${mark('AKIAABCDEFGHIJ234567')}`);
  assert.deepEqual(out.request.headers!['X-Amz-Date'], ['20240101T000000Z']);
});

test('a credential echoed inside a JSON string (quotes, backslashes and slashes escaped) is masked too', () => {
  const credential = 'pa"ss\\wo/rd-12345';
  const out = new Redactor().redact(exchangeWith({ body: JSON.stringify({ password: credential }) }, { body: `{"echo":${JSON.stringify(credential)},"php":"${JSON.stringify(credential).slice(1, -1).replaceAll('/', '\\/')}"}` }));
  assert.equal(out.response.body, `{"echo":"${mark(credential)}","php":"${mark(credential)}"}`);
});

test('a --redact-body-field value the answer quotes is masked by its marker: in JSON, and spelled across the events of a Responses API stream (CRLF lines), events kept', () => {
  const contents = [parseJsonPath('input[*].content') as JsonPath];
  const prompt = 'Book a table for Ada Lovelace at 8.';
  const request = { body: JSON.stringify({ model: 'm', input: [{ role: 'user', content: prompt }, { role: 'user', content: 'hi' }] }), headers: { 'Content-Type': ['application/json'] } };
  const named = (type: string, data: object): string => `event: ${type}\r\ndata: ${JSON.stringify({ type, ...data })}\r\n\r\n`;
  const words = `Sure: "${prompt}" hi`.split(/(?= )/);
  const stream = [named('response.created', {}), ...words.map((delta) => named('response.output_text.delta', { delta })), named('response.output_text.done', { text: words.join('') }), 'data: [DONE]\r\n\r\n'].join('');
  const redactor = new Redactor({ bodyFields: contents });
  const out = redactor.redact(exchangeWith(request, { body: stream, headers: { 'Content-Type': ['text/event-stream'] } }));
  const body = out.response.body as string;
  assert.ok(!body.includes('Lovelace') && !body.includes('table'), body);
  assert.equal(splitEvents(Buffer.from(body)).length, splitEvents(Buffer.from(stream)).length, 'as many events as recorded, so event_offsets_ms still fits');
  const deltas = [...body.matchAll(/"delta":"((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`)).join('');
  assert.equal(deltas, `Sure: "${mark(prompt)}" hi`, 'the quote is one marker; "hi" (shorter than 8 characters) is left');
  assert.ok(body.includes(`"text":"Sure: \\"${mark(prompt)}\\" hi"`), 'and the whole quote in the done event');
  assert.ok(body.split('\r\n\r\n').every((event) => !event.includes('\n\n')), 'events keep their CRLF framing');
  assert.deepEqual(redactor.redact(out), out, 'redacting the saved copy again (cassette-proxy redact) changes nothing');

  const json = JSON.stringify({ output_text: `You said ${prompt}` });
  const answer = redactor.redact(exchangeWith(request, { body: json, content_length: json.length, headers: { 'Content-Type': ['application/json'], 'Content-Length': [String(json.length)] } })).response;
  assert.equal(answer.body, JSON.stringify({ output_text: `You said ${mark(prompt)}` }));
  assert.equal(answer.content_length, Buffer.byteLength(answer.body as string));
  assert.deepEqual(answer.headers['Content-Length'], [String(answer.content_length)], 'the length is the saved body\'s');
});

test('an event nested too deep to walk is left as it is, and the rest of the stream is still masked', () => {
  const prompt = 'My name is Ada Lovelace.';
  const deep = `data: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n\n`;
  const stream = `${deep}data: ${JSON.stringify({ delta: `You said ${prompt}` })}\n\n`;
  const out = new Redactor({ bodyFields: [parseJsonPath('input') as JsonPath] }).redact(
    exchangeWith({ body: JSON.stringify({ input: prompt }), headers: { 'Content-Type': ['application/json'] } }, { body: stream, headers: { 'Content-Type': ['text/event-stream'] } }),
  );
  assert.equal(out.response.body, `${deep}data: ${JSON.stringify({ delta: `You said ${mark(prompt)}` })}\n\n`);
});
