/**
 * A miss finds its nearest recording through the fingerprint index: no recorded request is parsed
 * again to find it, and one (the nearest) to say what differs, only when the miss is answered.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { cassetteText, serializeInteraction } from '../../src/cassette/codec.js';
import type { Body, HeaderMap, Interaction } from '../../src/cassette/types.js';
import { silentLogger } from '../../src/log.js';
import { RequestViewer } from '../../src/match/request-view.js';
import { fingerprint } from '../../src/match/fingerprint.js';
import { MatchTable, type Lookup } from '../../src/match/table.js';
import { openai } from '../../src/providers/openai.js';
import { upstreamAt } from '../../src/providers/profile.js';
import { ReplayCassettes } from '../../src/replay/cassettes.js';
import { Replayer } from '../../src/replay/replayer.js';
import { FsStorage } from '../../src/storage/fs.js';
import { tempDir } from '../support/paths.js';

/** Counts every request it views: recorded ones when a table loads or explains, incoming ones when they arrive. */
class CountingViewer extends RequestViewer {
  views = 0;
  override view(method: string, url: string, headers: HeaderMap | NodeJS.Dict<string | string[]>, body: Body | Buffer | undefined) {
    this.views++;
    return super.view(method, url, headers, body);
  }
}

const SYSTEM = { role: 'system', content: 'You answer arithmetic questions with the add tool.' };
const TOOLS = [{ type: 'function', function: { name: 'add', parameters: { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'integer' } } } } }];

/** The i-th request of a suite of three-turn conversations: each turn resends the conversation so far. */
function conversationBody(i: number): { model: string; messages: { role: string; content: string }[]; tools: unknown; max_completion_tokens: number } {
  const conversation = Math.floor(i / 3);
  const messages = [SYSTEM];
  for (let turn = 0; turn <= i % 3; turn++) {
    if (turn > 0) messages.push({ role: 'assistant', content: `Answer ${turn} of case ${conversation}.` });
    messages.push({ role: 'user', content: `Case ${conversation}, question ${turn}: what is ${conversation} + ${turn}?` });
  }
  return { model: 'gpt-4o-mini', messages, tools: TOOLS, max_completion_tokens: 256 };
}

function recording(id: number, body: unknown, urlPath = '/v1/chat/completions', method = 'POST'): Interaction {
  const text = JSON.stringify(body);
  return {
    id,
    request: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: text.length, host: 'api.openai.com', body: text, headers: { 'Content-Type': ['application/json'] }, url: `https://api.openai.com${urlPath}`, method },
    response: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: -1, body: `{"id":"r${id}"}`, headers: { 'Content-Type': ['application/json'] }, status: '200 OK', code: 200, duration: '1ms' },
  };
}

const suite = (count: number): Interaction[] => Array.from({ length: count }, (_, i) => recording(i, conversationBody(i)));

/** A table over `interactions`, and a miss for `body`, counting the views each step makes. */
function miss(interactions: Interaction[], body: unknown, urlPath = '/v1/chat/completions'): { lookup: Lookup; viewer: CountingViewer } {
  const viewer = new CountingViewer({ ignore: [], headers: [] });
  const table = new MatchTable(interactions, viewer, 'repeat');
  const request = new RequestViewer({ ignore: [], headers: [] }).view('POST', `https://api.openai.com${urlPath}`, {}, Buffer.from(JSON.stringify(body)));
  viewer.views = 0;
  return { lookup: table.take(viewer.key(request), () => request), viewer };
}

function nearestOf(lookup: Lookup) {
  assert.equal(lookup.kind, 'miss');
  return lookup.kind === 'miss' ? lookup.nearest() : undefined;
}

test('a miss in 2,000 recordings parses none of them to find the nearest, and only the nearest to say what differs', () => {
  const body = conversationBody(1739); // case 579, turn 2
  body.messages.at(-1)!.content = 'Case 579, question 2: what is 579 + 3?';
  const { lookup, viewer } = miss(suite(2000), body);
  assert.equal(viewer.views, 0, 'the lookup itself');
  const near = nearestOf(lookup)!;
  assert.equal(viewer.views, 0, 'finding the nearest');
  assert.equal(near.interaction.id, 1739);
  assert.equal(near.fields, 1);
  assert.deepEqual(near.differences(), ['body.messages[5].content: recorded "Case 579, question 2: what is 579 + 2?", got "Case 579, question 2: what is 579 + 3?"']);
  assert.equal(viewer.views, 1, 'explaining it: one recording');
  near.differences();
  assert.equal(viewer.views, 1, 'explained once');
});

test('a forwarded miss (replay-or-record) costs one view, of the request; the error, worded only when asked, one more', async (t) => {
  const { dir, remove } = await tempDir();
  t.after(remove);
  const file = path.join(dir, 'suite.yaml');
  await writeFile(file, cassetteText(suite(2000).map((i) => serializeInteraction(i))));
  const viewer = new CountingViewer({ ignore: [], headers: [] });
  const replayer = new Replayer(new ReplayCassettes(new FsStorage(), viewer, 'repeat', silentLogger()), viewer);
  const upstream = upstreamAt(openai, new URL('https://api.openai.com'));
  const body = conversationBody(1001); // case 333, turn 2
  body.messages.at(-1)!.content = 'Something else';
  const request = { method: 'POST', url: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(body)) };
  await replayer.find({ ...request, body: Buffer.from(JSON.stringify(conversationBody(0))) }, file, upstream); // loads the cassette
  viewer.views = 0;

  const found = await replayer.find(request, file, upstream);
  assert.equal(found.kind, 'miss');
  assert.equal(viewer.views, 1, 'the request only');
  const error = found.kind === 'miss' ? found.error() : undefined;
  assert.equal(viewer.views, 2, 'and its nearest recording');
  assert.equal(
    error?.message,
    `cassette-proxy replay: no recording in ${file} matches POST /v1/chat/completions. Nearest is interaction 1001 (POST /v1/chat/completions), which differs in 1 field: ` +
      'body.messages[5].content: recorded "Case 333, question 2: what is 333 + 2?", got "Something else". Record this request (--mode record), or leave a changing field out of matching with --match-ignore.',
  );
  assert.equal(found.kind === 'miss' && found.error(), error, 'worded once');
});

test('a conversation that went on one turn further is nearest to the turn it continues', () => {
  const body = conversationBody(1501); // case 500, turn 1
  body.messages.push({ role: 'user', content: 'And now?' });
  const near = nearestOf(miss(suite(2000), body).lookup)!;
  assert.equal(near.interaction.id, 1501);
  assert.equal(near.fields, 1);
  assert.deepEqual(near.differences(), ['body.messages[4]: recorded nothing, got {"role":"user","content":"And now?"}']);
});

test('recordings that differ from a miss in as many fields: the earliest is the nearest', () => {
  const single = (i: number, question: string) => recording(i, { model: 'gpt-4o-mini', messages: [SYSTEM, { role: 'user', content: question }] });
  const interactions = Array.from({ length: 500 }, (_, i) => single(i, `Question ${i}`));
  const near = nearestOf(miss(interactions, { model: 'gpt-4o-mini', messages: [SYSTEM, { role: 'user', content: 'A new question' }] }).lookup)!;
  assert.deepEqual([near.interaction.id, near.fields], [0, 1]);
});

test('recordings that differ in as many fields: the one at the request\'s own position (how many requests the cassette was asked before) wins', () => {
  const single = (i: number, question: string) => recording(i, { model: 'gpt-4o-mini', messages: [SYSTEM, { role: 'user', content: question }] });
  const viewer = new RequestViewer({ ignore: [], headers: [] });
  const table = new MatchTable(Array.from({ length: 500 }, (_, i) => single(i, `Question ${i}`)), viewer, 'repeat');
  const ask = (question: string, model = 'gpt-4o-mini'): Lookup => {
    const view = viewer.view('POST', 'https://api.openai.com/v1/chat/completions', {}, Buffer.from(JSON.stringify({ model, messages: [SYSTEM, { role: 'user', content: question }] })));
    return table.take(viewer.key(view), () => view);
  };
  for (let i = 0; i < 300; i++) assert.equal(ask(`Question ${i}`).kind, 'hit');
  const near = (lookup: Lookup) => [nearestOf(lookup)!.interaction.id, nearestOf(lookup)!.fields];
  assert.deepEqual(near(ask('A new question')), [300, 1]);
  assert.deepEqual(near(ask('A new question')), [301, 1], 'a miss is asked too: the next request\'s own position is one further');
  // A recording that differs in fewer fields wins over the own position (302, two fields: model and question).
  assert.deepEqual(near(ask('Question 5', 'gpt-4o')), [5, 1]);
  table.rewind();
  assert.deepEqual(near(ask('A new question')), [0, 1], 'rewound: the first request again');
});

test('recordings of the same method and path come first; another endpoint only when the cassette has none of its own', () => {
  const question = { model: 'gpt-4o-mini', input: 'Say hello' };
  const interactions = [recording(0, question, '/v1/chat/completions'), recording(1, { model: 'gpt-4o', input: 'Say goodbye' }, '/v1/responses')];
  const sameEndpoint = nearestOf(miss(interactions, question, '/v1/responses').lookup)!;
  assert.deepEqual([sameEndpoint.interaction.id, sameEndpoint.fields], [1, 2], 'nearer in fields, but another path');
  const otherEndpoint = nearestOf(miss(interactions, question, '/v1/embeddings').lookup)!;
  assert.deepEqual([otherEndpoint.interaction.id, otherEndpoint.fields], [0, 1]);
  assert.deepEqual(otherEndpoint.differences(), ['path: recorded /v1/chat/completions, got /v1/embeddings']);
});

test('an empty cassette has no nearest recording', () => {
  assert.equal(nearestOf(miss([], { model: 'gpt-4o-mini' }).lookup), undefined);
});

test('a body nested 500,000 deep gets a fingerprint (no stack overflow when its cassette loads), told apart from another', () => {
  const viewer = new RequestViewer({ ignore: [], headers: [] });
  const deep = (inner: string) => fingerprint(viewer.view('POST', 'https://api.openai.com/v1/chat/completions', {}, Buffer.from(`${'['.repeat(500_000)}${inner}${']'.repeat(500_000)}`)));
  const [a, b] = [deep('1'), deep('2')];
  assert.deepEqual(a.paths, b.paths);
  assert.notDeepEqual(a.keys, b.keys);
  // Below the fingerprint's three levels too, key order aside, equal values hash alike.
  const keys = (body: string) => fingerprint(viewer.view('POST', '/v1/x', {}, Buffer.from(body))).keys.sort();
  assert.deepEqual(keys('{"b":{"c":{"d":[1,{"e":"f","g":null}]}},"a":null}'), keys('{"a":null,"b":{"c":{"d":[1,{"g":null,"e":"f"}]}}}'));
  assert.notDeepEqual(keys('{"b":{"c":{"d":[1,{"e":"f"}]}}}'), keys('{"b":{"c":{"d":[{"e":"f"},1]}}}'));
});
