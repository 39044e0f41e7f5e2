/** describeInteraction: model, stream, events, tokens and size as `inspect` shows them, for the API shapes it knows. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeInteraction, requestPath } from '../../src/cassette/describe.js';
import type { Body, Interaction } from '../../src/cassette/types.js';

function interaction(requestBody: Body, responseBody: Body, contentType: string, url = 'https://api.openai.com/v1/responses'): Interaction {
  return {
    id: 3,
    request: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: 0, host: 'api.openai.com', body: requestBody, headers: {}, url, method: 'POST' },
    response: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: -1, body: responseBody, headers: { 'Content-Type': [contentType] }, status: '200 OK', code: 200, duration: '1ms' },
  };
}

const sse = (...events: unknown[]): string => events.map((e) => (typeof e === 'string' ? `event: x\ndata: ${e}\n\n` : `event: x\ndata: ${JSON.stringify(e)}\n\n`)).join('');

test('a Responses API stream: tokens from response.usage in its last event, model from the request', () => {
  const body = sse(
    { type: 'response.created', response: { model: 'gpt-4.1-2025', usage: null } },
    { type: 'response.output_text.delta', delta: 'Hi' },
    { type: 'response.completed', response: { model: 'gpt-4.1-2025', usage: { input_tokens: 11, output_tokens: 7, total_tokens: 18 } } },
  );
  const facts = describeInteraction(interaction('{"model":"gpt-4.1","stream":true}', body, 'text/event-stream; charset=utf-8', 'https://api.openai.com/v1/responses?api-version=1'));
  assert.deepEqual(facts, { id: 3, method: 'POST', path: '/v1/responses', status: 200, model: 'gpt-4.1', streamed: true, events: 3, tokens_in: 11, tokens_out: 7, size: 33 + Buffer.byteLength(body) });
});

test('an Anthropic-style stream: input tokens in message_start, output in the last message_delta; model from the answer when the request has none', () => {
  const body = sse(
    { type: 'message_start', message: { model: 'claude-x', usage: { input_tokens: 25, output_tokens: 1 } } },
    { type: 'content_block_delta', delta: { text: 'Hello' } },
    { type: 'message_delta', usage: { output_tokens: 15 } },
    '[DONE]',
  );
  const facts = describeInteraction(interaction('{"stream":true}', body, 'text/event-stream'));
  assert.equal(facts.model, 'claude-x');
  assert.deepEqual([facts.events, facts.tokens_in, facts.tokens_out], [4, 25, 15]);
});

test('a JSON answer: chat usage; a binary answer: its bytes counted, nothing else guessed', () => {
  const chat = describeInteraction(interaction('{"model":"gpt-4o-mini"}', '{"model":"gpt-4o-mini-2024","usage":{"prompt_tokens":9,"completion_tokens":2}}', 'application/json'));
  assert.deepEqual([chat.model, chat.streamed, chat.events, chat.tokens_in, chat.tokens_out], ['gpt-4o-mini', false, 0, 9, 2]);
  const audio = describeInteraction(interaction('', Uint8Array.from([0, 255, 1]), 'audio/mpeg'));
  assert.deepEqual([audio.model, audio.tokens_in, audio.tokens_out, audio.size], [null, null, null, 3]);
});

test('requestPath leaves the query out (it may carry credentials), for absolute and relative URLs', () => {
  assert.equal(requestPath('https://api.openai.com/v1/models?api-key=secret'), '/v1/models');
  assert.equal(requestPath('/v1/files?x=1'), '/v1/files');
});
