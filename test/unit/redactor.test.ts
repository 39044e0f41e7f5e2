import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NewInteraction } from '../../src/cassette/types.js';
import { REDACTED, Redactor } from '../../src/redact/redactor.js';
import { makeTestKey } from '../support/fake-upstream.js';

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
  assert.deepEqual(out.request.headers!.Authorization, [REDACTED]);
  assert.deepEqual(out.request.headers!['X-Echo'], [`copy ${REDACTED}`]);
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
