/** The WebSocket session extension in the format, audio digests, and frames compared by meaning. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cassetteText, parseCassette, serializeInteraction } from '../../src/cassette/codec.js';
import type { Interaction, WebSocketFrame } from '../../src/cassette/types.js';
import { audioDigest, digestAudioFrame, silenceForMarker } from '../../src/cassette/websocket.js';
import { ProxyError } from '../../src/errors.js';
import { parseJsonPath, type JsonPath } from '../../src/json-path.js';
import { frameDifferences } from '../../src/match/frames.js';
import { parseCassetteYaml } from '../support/proxy.js';

function session(frames: WebSocketFrame[]): Interaction {
  return {
    id: 0,
    request: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: 0, host: 'api.openai.com', url: 'https://api.openai.com/v1/realtime?model=gpt-realtime', method: 'GET', headers: { Authorization: ['[REDACTED]'] } },
    response: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: -1, body: '', headers: { Upgrade: ['websocket'] }, status: '101 Switching Protocols', code: 101, duration: '3ms' },
    cassette_proxy: { websocket: { frames } },
  };
}

const FRAMES: WebSocketFrame[] = [
  { from: 'server', at_ms: 0.2, text: '{"type":"session.created","session":{"id":"sess_1"}}' },
  { from: 'client', at_ms: 3.5, text: 'line one\nline two: "quoted"\n' },
  { from: 'server', at_ms: 10, binary: new Uint8Array([0, 255, 1, 254]) },
  { from: 'client', at_ms: 12.125, close_code: 1000, close_reason: 'done' },
];

test('a WebSocket session round-trips through the codec, and plain YAML readers see it under the one extension key', () => {
  const text = cassetteText([serializeInteraction(session(FRAMES))]);
  const [back] = parseCassette(text, 'mem.yaml').interactions;
  assert.equal(back!.response.code, 101);
  assert.deepEqual(back!.cassette_proxy!.websocket!.frames.map((f) => ({ ...f, binary: f.binary && [...f.binary] })), FRAMES.map((f) => ({ ...f, binary: f.binary && [...f.binary] })));
  const plain = parseCassetteYaml(text);
  // go-vcr reads request and response only: the frames are under a key it ignores.
  assert.deepEqual(Object.keys(plain.interactions[0]), ['id', 'request', 'response', 'cassette_proxy']);
});

test('hostile or hand-broken sessions are refused at load with the file and field named, never a crash', () => {
  const broken: [string, (i: any) => void, RegExp][] = [
    ['a 101 without frames', (i) => delete i.cassette_proxy, /code must be a final HTTP status/],
    ['frames with a 200', (i) => (i.response.code = 200), /must be 101 for an interaction holding a WebSocket session/],
    ['a frame from nobody', (i) => (i.cassette_proxy.websocket.frames[0].from = 'proxy'), /frames\[0\]\.from must be client or server/],
    ['a negative offset', (i) => (i.cassette_proxy.websocket.frames[0].at_ms = -1), /frames\[0\]\.at_ms must be a non-negative number/],
    ['two payloads', (i) => (i.cassette_proxy.websocket.frames[0].close_code = 1000), /frames\[0\] must hold exactly one of text, binary or close_code/],
    ['a close code no frame may carry', (i) => (i.cassette_proxy.websocket.frames[3].close_code = 1006), /close_code must be 1000 to 1014/],
    ['an unknown audio mode', (i) => (i.cassette_proxy.websocket.audio = 'mp3'), /audio must be digest or full/],
  ];
  for (const [what, breakIt, message] of broken) {
    const interaction: any = structuredClone(session(FRAMES));
    breakIt(interaction);
    const text = cassetteText([serializeInteraction(interaction)]);
    assertRefused(text, what, message);
  }
  // Shapes the emitter cannot write, as a hand would.
  const yaml = cassetteText([serializeInteraction(session(FRAMES))]);
  assertRefused(yaml.replace(/frames:\n[\s\S]*$/, 'frames: x\n'), 'frames that are not a list', /frames must be a list/);
  assertRefused(yaml.replace(/binary: !!binary \S+/, 'binary: AP8B/g=='), 'binary that is not !!binary', /binary must be !!binary/);
});

function assertRefused(text: string, what: string, message: RegExp): void {
  assert.throws(
    () => parseCassette(text, 'hand.yaml'),
    (err: unknown) => err instanceof ProxyError && err.code === 'cassette_invalid' && /hand\.yaml/.test(err.message) && message.test(err.message),
    what,
  );
}

test('audio digests: a marker of the SHA-256 and decoded length in place of the payload; silence of that length on replay; other events untouched', () => {
  const audio = Buffer.alloc(3000, 7).toString('base64');
  const digested = JSON.parse(digestAudioFrame(JSON.stringify({ type: 'input_audio_buffer.append', audio })));
  assert.equal(digested.audio, audioDigest(audio));
  assert.match(digested.audio, /^cassette-proxy:audio;sha256=[0-9a-f]{64};bytes=3000$/);
  const delta = JSON.stringify({ type: 'response.output_audio.delta', delta: audioDigest(audio) });
  assert.deepEqual(Buffer.from(JSON.parse(silenceForMarker(delta)).delta, 'base64'), Buffer.alloc(3000));
  const text = JSON.stringify({ type: 'response.output_text.delta', delta: 'audio' });
  assert.equal(digestAudioFrame(text), text);
  // A hand-edited marker claiming gigabytes is not turned into silence.
  const huge = JSON.stringify({ type: 'response.output_audio.delta', delta: `cassette-proxy:audio;sha256=${'0'.repeat(64)};bytes=999999999` });
  assert.equal(silenceForMarker(huge), huge);
});

test('frames match by meaning: key order, event_id, client item ids and --match-ignore paths do not count; call_id and content do, field by field', () => {
  const matching = { prepare: (t: string) => t, matchIgnore: [parseJsonPath('session.instructions') as JsonPath] };
  const recorded: WebSocketFrame = { from: 'client', at_ms: 1, text: JSON.stringify({ type: 'conversation.item.create', event_id: 'evt_1', previous_item_id: 'item_a', item: { id: 'item_1', type: 'function_call_output', call_id: 'call_1', output: '{"t":20}' } }) };
  const same = { text: JSON.stringify({ item: { output: '{"t":20}', call_id: 'call_1', type: 'function_call_output', id: 'item_other' }, previous_item_id: 'item_b', type: 'conversation.item.create', event_id: 'evt_99' }) };
  assert.deepEqual(frameDifferences(recorded, same, matching), []);
  const other = { text: JSON.stringify({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: 'call_2', output: '{"t":21}' } }) };
  assert.deepEqual(frameDifferences(recorded, other, matching), ['item.call_id: "call_1" recorded, "call_2" sent', 'item.output: "{\\"t\\":20}" recorded, "{\\"t\\":21}" sent']);
  const update: WebSocketFrame = { from: 'client', at_ms: 1, text: '{"type":"session.update","session":{"instructions":"a"}}' };
  assert.deepEqual(frameDifferences(update, { text: '{"type":"session.update","session":{"instructions":"b"}}' }, matching), []);
  assert.deepEqual(frameDifferences(update, { binary: Buffer.from('x') }, matching), ['frame: the recording has a text frame here, the client sent a binary frame']);
  assert.deepEqual(frameDifferences({ from: 'client', at_ms: 0, text: 'ping' }, { text: 'pong' }, matching), ['text: ping recorded, pong sent']);
  const audio = Buffer.alloc(30, 1).toString('base64');
  const digested: WebSocketFrame = { from: 'client', at_ms: 0, text: JSON.stringify({ type: 'input_audio_buffer.append', audio: audioDigest(audio) }) };
  assert.deepEqual(frameDifferences(digested, { text: JSON.stringify({ type: 'input_audio_buffer.append', audio }) }, matching), []);
  assert.equal(frameDifferences(digested, { text: JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.alloc(30, 2).toString('base64') }) }, matching).length, 1);
});
