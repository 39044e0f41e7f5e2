/**
 * A fake Anthropic API in its documented shapes: POST /v1/messages (x-api-key and
 * anthropic-version required), a message, or with `stream: true` the named SSE events
 * message_start, content_block_start, ping, content_block_delta…, content_block_stop,
 * message_delta, message_stop; errors as {"type":"error","error":{"type","message"}}. And Bedrock's
 * streamed invoke (POST /model/{id}/invoke-with-response-stream): the same events inside binary
 * application/vnd.amazon.eventstream messages.
 */
import { crc32 } from 'node:zlib';
import { FakeProvider, parseBody, sendEvents, sendJson } from './fake-provider.js';

export const ANTHROPIC_TEXT = ['Cassettes', ' replay', ' Claude', ' too.'];

const message = (model: unknown) => ({
  id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
  type: 'message',
  role: 'assistant',
  model,
  content: [{ type: 'text', text: ANTHROPIC_TEXT.join('') }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 12, output_tokens: 6 },
});

/** The data of each streamed event, in order. */
export function anthropicEvents(model: unknown): Record<string, unknown>[] {
  const start = { ...message(model), content: [], stop_reason: null, usage: { input_tokens: 12, output_tokens: 1 } };
  return [
    { type: 'message_start', message: start },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    { type: 'ping' },
    ...ANTHROPIC_TEXT.map((text) => ({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } })),
    { type: 'content_block_stop', index: 0 },
    { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 6 } },
    { type: 'message_stop' },
  ];
}

const error = (type: string, text: string) => ({ type: 'error', error: { type, message: text } });

export function startFakeAnthropic(options: { apiKey?: string; spacingMs?: number } = {}): Promise<FakeProvider> {
  return FakeProvider.start(async (req, body, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    const json = parseBody(body);
    const bedrock = /^\/model\/([^/]+)\/invoke-with-response-stream$/.exec(path);
    if (req.method === 'POST' && bedrock) {
      const messages = anthropicEvents(decodeURIComponent(bedrock[1]!)).map((data) => eventStreamMessage({ ':event-type': 'chunk', ':content-type': 'application/json', ':message-type': 'event' }, JSON.stringify({ bytes: Buffer.from(JSON.stringify(data)).toString('base64') })));
      return sendEvents(res, 'application/vnd.amazon.eventstream', messages, options.spacingMs ?? 0);
    }
    if (options.apiKey && req.headers['x-api-key'] !== options.apiKey) return sendJson(res, 401, error('authentication_error', 'invalid x-api-key'));
    if (!req.headers['anthropic-version']) return sendJson(res, 400, error('invalid_request_error', 'anthropic-version: header is required'));
    if (req.method !== 'POST' || path !== '/v1/messages') return sendJson(res, 404, error('not_found_error', `Not found: ${path}`));
    if (!json.stream) return sendJson(res, 200, message(json.model), { 'request-id': 'req_fake_anthropic' });
    const events = anthropicEvents(json.model).map((data) => `event: ${data.type as string}\ndata: ${JSON.stringify(data)}\n\n`);
    return sendEvents(res, 'text/event-stream; charset=utf-8', events, options.spacingMs ?? 0);
  });
}

/** One AWS event stream message: prelude (total length, headers length, CRC), string headers, payload, CRC. */
export function eventStreamMessage(headers: Record<string, string>, payload: string): Buffer {
  const head = Buffer.concat(
    Object.entries(headers).map(([name, value]) => {
      const v = Buffer.from(value);
      const out = Buffer.alloc(1 + name.length + 1 + 2);
      out.writeUInt8(name.length, 0);
      out.write(name, 1, 'latin1');
      out.writeUInt8(7, 1 + name.length); // string
      out.writeUInt16BE(v.length, 2 + name.length);
      return Buffer.concat([out, v]);
    }),
  );
  const body = Buffer.from(payload);
  const total = 12 + head.length + body.length + 4;
  const prelude = Buffer.alloc(12);
  prelude.writeUInt32BE(total, 0);
  prelude.writeUInt32BE(head.length, 4);
  prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
  const withoutCrc = Buffer.concat([prelude, head, body]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(withoutCrc), 0);
  return Buffer.concat([withoutCrc, crc]);
}
