/** Interactions shaped like real traffic, for the cassette benchmarks. */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { CORE_SCHEMA, binaryTag, load } from 'js-yaml';
import { cassetteText, serializeInteraction } from '../src/cassette/codec.js';
import { canonicalHeaderKey } from '../src/cassette/go.js';
import type { HeaderMap, NewInteraction } from '../src/cassette/types.js';
import { FsStorage } from '../src/storage/fs.js';
import { sdkChatBody, sdkHeaders } from './sdk.js';

export function chatInteraction(i: number): NewInteraction {
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Question number ${i}: what is ${i} + ${i}?` }] });
  return {
    request: {
      proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: body.length, host: 'api.openai.com', body,
      headers: { Accept: ['application/json'], Authorization: ['[REDACTED]'], 'Content-Type': ['application/json'], 'User-Agent': ['OpenAI/JS 6.9.0'], 'X-Stainless-Lang': ['js'], 'X-Stainless-Retry-Count': ['0'] },
      url: 'https://api.openai.com/v1/chat/completions', method: 'POST',
    },
    response: {
      proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: -1, transfer_encoding: ['chunked'],
      body: JSON.stringify({ id: `chatcmpl-${i}`, object: 'chat.completion', created: 1753124512, model: 'gpt-4o-mini-2024-07-18', choices: [{ index: 0, message: { role: 'assistant', content: `${i} + ${i} = ${2 * i}.`, refusal: null }, finish_reason: 'stop' }], usage: { prompt_tokens: 15, completion_tokens: 9, total_tokens: 24 } }),
      headers: { 'Content-Type': ['application/json'], Date: ['Wed, 25 Nov 2026 10:00:00 GMT'], 'Openai-Processing-Ms': ['212'], 'X-Request-Id': [`req_${i}`] },
      status: '200 OK', code: 200, duration: '412.123456ms',
    },
  };
}

const SYSTEM_PROMPT =
  'You are the support assistant of Acme Checkout. Answer in at most three sentences; use the tools to look orders up and never guess a delivery date.';

const TOOLS = [
  {
    type: 'function',
    function: {
      name: 'lookup_order',
      description: 'Find an order by its number',
      parameters: { type: 'object', properties: { order_id: { type: 'string' }, include_items: { type: 'boolean' } }, required: ['order_id'], additionalProperties: false },
      strict: true,
    },
  },
  {
    type: 'function',
    function: {
      name: 'search_help_center',
      description: 'Search the help center',
      parameters: { type: 'object', properties: { query: { type: 'string' }, locale: { type: 'string', enum: ['en', 'de', 'fr', 'es'] } }, required: ['query', 'locale'], additionalProperties: false },
      strict: true,
    },
  },
];

/**
 * The body of the `i`-th request of a realistic chat suite: conversations of three turns, each
 * turn resending the whole conversation so far, with a system prompt, tools and metadata.
 */
export function supportChatBody(i: number, lastMessage = (text: string) => text): Record<string, unknown> {
  const conversation = Math.floor(i / 3);
  const messages: { role: string; content: string }[] = [{ role: 'system', content: SYSTEM_PROMPT }];
  for (let turn = 0; turn <= i % 3; turn++) {
    if (turn > 0) messages.push({ role: 'assistant', content: `Order A-${10_000 + conversation} shipped on day ${turn}; it should arrive within two working days.` });
    messages.push({ role: 'user', content: `Case ${conversation}, turn ${turn}: where is my order A-${10_000 + conversation}? I ordered it ${turn + 2} days ago.` });
  }
  messages[messages.length - 1]!.content = lastMessage(messages[messages.length - 1]!.content);
  return { model: 'gpt-4o-mini', messages, tools: TOOLS, tool_choice: 'auto', max_completion_tokens: 512, temperature: 0.2, metadata: { suite: 'checkout-support', case: `case-${conversation}` } };
}

/** The `i`-th interaction of the realistic chat suite (supportChatBody), answered in plain text. */
export function supportChatInteraction(i: number): NewInteraction {
  const interaction = chatInteraction(i);
  const body = JSON.stringify(supportChatBody(i));
  return { ...interaction, request: { ...interaction.request, body, content_length: Buffer.byteLength(body) } };
}

/** The SDK's request headers as the proxy records them: Go's spelling, the credential redacted. */
export function recordedSdkHeaders(): HeaderMap {
  return Object.fromEntries(Object.entries(sdkHeaders()).map(([name, value]) => [canonicalHeaderKey(name), [name === 'authorization' ? '[REDACTED]' : value]]));
}

/**
 * The `i`-th interaction of the SDK chat suite (sdk.ts): the request as the SDK sends it, answered
 * as chatInteraction is (in short, so that 50,000 of them stay about 200 MiB of YAML).
 */
export function sdkInteraction(i: number): NewInteraction {
  const interaction = chatInteraction(i);
  const body = JSON.stringify(sdkChatBody(i));
  return { ...interaction, request: { ...interaction.request, headers: recordedSdkHeaders(), body, content_length: Buffer.byteLength(body) } };
}

/** A cassette file holding `count` interactions (chat by default), in a fresh temporary folder. */
export async function cassetteOf(count: number, make: (i: number) => NewInteraction = chatInteraction): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cassette-bench-'));
  const file = path.join(dir, 'bench.yaml');
  const blocks = Array.from({ length: count }, (_, id) => serializeInteraction({ id, ...make(id) }));
  await new FsStorage().write(file, [Buffer.from(cassetteText(blocks))], null);
  return file;
}

/** js-yaml's parse of a cassette file, as go-vcr's YAML reads it: the baseline of the loading figures. */
export async function jsYamlParse(file: string): Promise<unknown> {
  return load(await readFile(file, 'utf8'), { schema: CORE_SCHEMA.withTags(binaryTag) });
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
