/**
 * Redaction as matching sees it: a body is parsed once when its keys name no secret (redaction
 * decides from the keys, not from a word anywhere in the text), redacted values match by their
 * digests, and the bare markers of older recordings match any value.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Interaction } from '../../src/cassette/types.js';
import { parseJsonPath, type JsonPath } from '../../src/json-path.js';
import { RequestViewer } from '../../src/match/request-view.js';
import { MatchTable } from '../../src/match/table.js';
import { digestMarker, holdsBareMarker, withBareMarkers } from '../../src/redact/marker.js';
import { Redactor } from '../../src/redact/redactor.js';
import { mayHoldSecretField } from '../../src/redact/secrets.js';
import { Hooks } from '../../src/exchange/hooks.js';
import { redaction } from '../../src/redact/redaction.js';

const URL_ = 'https://api.openai.com/v1/chat/completions';
const JSON_TYPE = { 'content-type': 'application/json' };
const mark = digestMarker();

function viewerFor(redactor: Redactor): RequestViewer {
  return new RequestViewer({ ignore: [], headers: ['authorization'], prepare: new Hooks([redaction(redactor)]).beforeMatch, bareMarkers: { holds: holdsBareMarker, bare: withBareMarkers } });
}

test('a body with max_tokens and a prompt about a monkey and its "password" is parsed once (by matching), not by redaction too', (t) => {
  const viewer = viewerFor(new Redactor());
  const body = JSON.stringify({
    model: 'gpt-4o-mini',
    max_tokens: 50,
    max_completion_tokens: 50,
    metadata: { token_budget: 'low', keyword: 'secrets' },
    messages: [{ role: 'user', content: 'A monkey found a key, a token and a secret.\nIt said "password": "hunter2" and {"api_key": "x"}' }],
  });
  const parse = t.mock.method(JSON, 'parse');
  const view = viewer.view('POST', URL_, JSON_TYPE, Buffer.from(body));
  assert.equal(parse.mock.callCount(), 1, 'one parse, for the view');
  assert.equal(view.body.kind, 'json');
  assert.deepEqual(view.body.kind === 'json' && view.body.value, JSON.parse(body), 'nothing was redacted');
});

test('a secret-named key at any depth is still found from the keys, and redacted', (t) => {
  const redactor = new Redactor();
  const body = JSON.stringify({ model: 'm', max_tokens: 5, tools: [{ type: 'mcp', server: { note: 'a monkey', config: { api_key: 'nested-secret-123456' } } }] });
  const parse = t.mock.method(JSON, 'parse');
  const out = recorded(redactor, 0, { headers: { 'Content-Type': ['application/json'] }, body }).request;
  assert.equal(parse.mock.callCount(), 1, 'parsed by redaction, which found work to do');
  parse.mock.restore();
  assert.equal(JSON.parse(out.body as string).tools[0].server.config.api_key, mark('nested-secret-123456'));
  assert.ok(!String(out.body).includes('nested-secret'));
});

test('mayHoldSecretField reads keys, not words: a value or an escaped quote in a prompt is no key', () => {
  const cases: [string, boolean][] = [
    ['{"api_key":"x"}', true],
    ['{"a":{"b":[{"Password" : 1}]}}', true],
    ['{\n  "client_secret"\n  :\n "x"}', true],
    ['{"max_tokens":1,"input":"monkey keys"}', false],
    [JSON.stringify({ content: 'my "api_key": "x" and "password":1' }), false],
    ['{"keys":["api_key","password"]}', false],
    ['{"note":"api_key"}', false],
    ['{"path":"C:\\\\","secret":"x"}', true],
    // A key spelled with escaped letters is left to the parser.
    ['{"api_k\\u0065y":"x"}', true],
  ];
  for (const [text, expected] of cases) assert.equal(mayHoldSecretField(text), expected, text);
});

function recording(id: number, request: Partial<Interaction['request']>): Interaction {
  return {
    id,
    request: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: 0, host: 'api.openai.com', body: '', headers: {}, url: URL_, method: 'POST', ...request },
    response: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: -1, body: `{"id":"r${id}"}`, headers: {}, status: '200 OK', code: 200, duration: '1ms' },
  };
}

/** What recording writes for a request. */
function recorded(redactor: Redactor, id: number, request: Partial<Interaction['request']>): Interaction {
  const { response, ...rest } = recording(id, request);
  return { ...redactor.redact({ ...rest, response }), id };
}

const contents = [parseJsonPath('messages[*].content') as JsonPath];
const mcpAuthorization = [parseJsonPath('tools[*].authorization') as JsonPath];

/** A chat request carrying a key in the Authorization header, the query, an MCP tool's authorization field and the prompt. */
function sent(key: string, prompt: string, token = key) {
  const tools = [{ type: 'mcp', server_url: 'https://mcp.example.com', authorization: token }];
  return { url: `${URL_}?api-key=${key}`, headers: { Authorization: [`Bearer ${key}`], 'Content-Type': ['application/json'] }, body: JSON.stringify({ tools, messages: [{ role: 'user', content: `${prompt} (${key})` }] }) };
}

test('what the user matches on (a --redact-body-field value, a --match-header header) matches by digest; a credential elsewhere matches any credential', () => {
  for (const [fields, tokenCounts] of [[contents, false], [[...contents, ...mcpAuthorization], true]] as const) {
    const redactor = new Redactor({ bodyFields: fields });
    const viewer = viewerFor(redactor);
    const table = new MatchTable([recorded(redactor, 0, sent('key-one-123456789', 'What is 15 + 27?'))], viewer, 'repeat');
    const lookup = (key: string, prompt: string, token?: string, header = key) => {
      const request = sent(key, prompt, token);
      const headers = { authorization: `Bearer ${header}`, ...JSON_TYPE };
      return table.take(viewer.key(viewer.view('POST', request.url, headers, Buffer.from(request.body))), () => assert.fail()).kind;
    };
    assert.equal(lookup('key-one-123456789', 'What is 15 + 27?'), 'hit');
    assert.equal(lookup('key-one-123456789', 'What is 15 + 27?', 'token-two-123456789'), tokenCounts ? 'miss' : 'hit', 'an MCP token counts when named with --redact-body-field');
    assert.equal(lookup('key-one-123456789', 'What is 15 + 28?'), 'miss', 'another prompt');
    assert.equal(lookup('key-one-123456789', 'What is 15 + 27?', 'key-one-123456789', 'key-two-123456789'), 'miss', 'another key in the matched header');
  }
  // A placeholder key in CI: the query, the MCP token and the key inside the prompt are credentials, which match any.
  const redactor = new Redactor();
  const ci = new RequestViewer({ ignore: [], headers: [], prepare: new Hooks([redaction(redactor)]).beforeMatch });
  const table = new MatchTable([recorded(redactor, 0, sent('key-one-123456789', 'What is 15 + 27?'))], ci, 'repeat');
  const placeholder = sent(['sk', 'placeholder', '0'.repeat(16)].join('-'), 'What is 15 + 27?');
  assert.equal(table.take(ci.key(ci.view('POST', placeholder.url, { authorization: placeholder.headers.Authorization[0], ...JSON_TYPE }, Buffer.from(placeholder.body))), () => assert.fail()).kind, 'hit');
});

test('a recording with bare [REDACTED] markers (header, query, body field) matches any value there; beside it, digests still tell values apart', () => {
  const redactor = new Redactor({ bodyFields: contents });
  const viewer = viewerFor(redactor);
  const body = (prompt: string) => JSON.stringify({ model: 'legacy', messages: [{ role: 'user', content: prompt }] });
  const legacy = recording(0, { url: `${URL_}?api-key=%5BREDACTED%5D`, headers: { Authorization: ['[REDACTED]'], 'Content-Type': ['application/json'] }, body: body('[REDACTED]') });
  const current = recorded(redactor, 1, { url: URL_, headers: { Authorization: ['Bearer key-one-123456789'], 'Content-Type': ['application/json'] }, body: JSON.stringify({ model: 'new', messages: [{ role: 'user', content: 'hello there' }] }) });
  const table = new MatchTable([legacy, current], viewer, 'repeat');
  const take = (url: string, key: string, json: string) => {
    const found = table.take(viewer.key(viewer.view('POST', url, { authorization: `Bearer ${key}`, ...JSON_TYPE }, Buffer.from(json))), () => assert.fail());
    return found.kind === 'hit' ? found.interaction.id : found.kind;
  };
  assert.equal(take(`${URL_}?api-key=any-key-987654321`, 'any-key-987654321', body('any prompt at all')), 0);
  assert.equal(take(`${URL_}?api-key=other-key-55555555`, 'other-key-55555555', body('another prompt')), 0);
  assert.equal(take(URL_, 'key-one-123456789', JSON.stringify({ model: 'new', messages: [{ role: 'user', content: 'hello there' }] })), 1);
  assert.equal(take(URL_, 'key-two-123456789', JSON.stringify({ model: 'new', messages: [{ role: 'user', content: 'hello there' }] })), 'miss');
  assert.equal(take(URL_, 'key-one-123456789', JSON.stringify({ model: 'new', messages: [{ role: 'user', content: 'hello again' }] })), 'miss');
});
