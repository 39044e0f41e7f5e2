/**
 * What people want to know about a recorded interaction, read from its fields and bodies: where
 * it went, the model, whether it streamed, how many events, the tokens it cost and its size. Used
 * by `cassette-proxy inspect` and the shutdown summary; never by matching or replay.
 */
import { isEventStream, splitEvents } from '../sse.js';
import type { Body, HeaderMap, Interaction } from './types.js';

export interface InteractionFacts {
  id: number;
  method: string;
  path: string;
  status: number;
  /** The request's `model`, or the answer's when the request names none. */
  model: string | null;
  streamed: boolean;
  /** SSE events in a streamed answer; 0 otherwise. */
  events: number;
  /** From the answer's `usage` (its last events' for a stream), when it has one. */
  tokens_in: number | null;
  tokens_out: number | null;
  /** Request and response body bytes. */
  size: number;
}

/** The path of a recorded URL, without its query: a query may carry credentials. */
export function requestPath(url: string): string {
  try {
    return new URL(url, 'http://relative').pathname;
  } catch {
    const end = url.indexOf('?');
    return end === -1 ? url : url.slice(0, end);
  }
}

export function describeInteraction(interaction: Interaction): InteractionFacts {
  const { request, response } = interaction;
  const streamed = isEventStream(header(response.headers, 'content-type'));
  const answers = streamed ? eventData(bytesOf(response.body)) : [jsonOf(response.body)].filter((v) => v !== undefined);
  let model = modelOf(jsonOf(request.body ?? ''));
  let tokensIn: number | null = null;
  let tokensOut: number | null = null;
  for (const answer of answers) {
    model ??= modelOf(answer) ?? modelOf(field(answer, 'response')) ?? modelOf(field(answer, 'message'));
    // Chat completions and embeddings: `usage`; the Responses API's last event: `response.usage`;
    // Anthropic's stream: input in `message_start`'s `message.usage`, output in `message_delta`'s `usage`.
    for (const usage of [field(answer, 'usage'), field(field(answer, 'response'), 'usage'), field(field(answer, 'message'), 'usage')]) {
      tokensIn = count(usage, 'prompt_tokens') ?? count(usage, 'input_tokens') ?? tokensIn;
      tokensOut = count(usage, 'completion_tokens') ?? count(usage, 'output_tokens') ?? tokensOut;
    }
  }
  return {
    id: interaction.id,
    method: request.method,
    path: requestPath(request.url),
    status: response.code,
    model: model ?? null,
    streamed,
    events: streamed ? splitEvents(bytesOf(response.body)).length : 0,
    tokens_in: tokensIn,
    tokens_out: tokensOut,
    size: bytesOf(request.body ?? '').length + bytesOf(response.body).length,
  };
}

function header(headers: HeaderMap, name: string): string[] | undefined {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

function bytesOf(body: Body): Uint8Array {
  return typeof body === 'string' ? Buffer.from(body) : body;
}

function jsonOf(body: Body | string): unknown {
  if (typeof body !== 'string' || !/^\s*[{[]/.test(body)) return undefined;
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/** The JSON `data` of each event of a stream (`[DONE]` and other text left out). */
function eventData(body: Uint8Array): unknown[] {
  const out: unknown[] = [];
  for (const event of splitEvents(body)) {
    const data = Buffer.from(event)
      .toString('utf8')
      .split(/\r\n|\r|\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5))
      .join('\n');
    const value = jsonOf(data);
    if (value !== undefined) out.push(value);
  }
  return out;
}

function field(value: unknown, key: string): unknown {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>)[key] : undefined;
}

function modelOf(value: unknown): string | undefined {
  const model = field(value, 'model');
  return typeof model === 'string' && model !== '' ? model : undefined;
}

function count(usage: unknown, key: string): number | undefined {
  const n = field(usage, key);
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}
