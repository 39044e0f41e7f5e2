/**
 * Requests as the official `openai` v6 Node SDK sends them and answers as the API returns them, for
 * the `-sdk` scenarios. The headers are those `client.chat.completions.create` sent to a local
 * server (openai 6.49, Node 20, Linux): seven `X-Stainless-*` headers, and an eighth,
 * `X-Stainless-Helper-Method`, from `client.chat.completions.stream()`; the answers follow the
 * Chat Completions reference (usage details, service tier, SSE chunks ending with a usage chunk and
 * `data: [DONE]`). No imports from src/: the upstream and the load generators use this module.
 */
import { VERSION } from 'openai/version';

/** Built at run time, so that no tracked file holds a key-shaped string. */
const API_KEY = ['sk', 'proj', 'Bench0Key1Shaped2Like3A4Project5Key'.repeat(4)].join('-');

/** The request headers of one SDK call, lower-cased as Node's http client sends them. */
export function sdkHeaders(options: { stream?: boolean } = {}): Record<string, string> {
  return {
    accept: 'application/json',
    'user-agent': `OpenAI/JS ${VERSION}`,
    'x-stainless-retry-count': '0',
    'x-stainless-lang': 'js',
    'x-stainless-package-version': VERSION,
    'x-stainless-os': 'Linux',
    'x-stainless-arch': 'x64',
    'x-stainless-runtime': 'node',
    'x-stainless-runtime-version': process.version,
    ...(options.stream ? { 'x-stainless-helper-method': 'stream' } : {}),
    authorization: `Bearer ${API_KEY}`,
    'content-type': 'application/json',
    'accept-language': '*',
    'sec-fetch-mode': 'cors',
    'accept-encoding': 'gzip, deflate',
  };
}

const SYSTEM_PROMPT = [
  'You are the support assistant of Acme Checkout, an online shop selling kitchen equipment in Europe.',
  'Answer in the language of the customer, in at most five sentences, politely and without marketing language.',
  'Use lookup_order before saying anything about an order; never guess a delivery date, a price or a refund amount.',
  'Use search_help_center for questions about returns, warranties, payment methods and shipping countries, and quote the article title.',
  'Use update_delivery_address only after the customer confirmed the new address in full; read it back to them first.',
  'If a request is outside these tools, say so and offer to open a ticket with a human agent.',
].join(' ');

const TOOLS = [
  {
    type: 'function',
    function: {
      name: 'lookup_order',
      description: 'Find an order by its number and return its status, carrier, tracking number and items.',
      parameters: {
        type: 'object',
        properties: { order_id: { type: 'string', description: 'The order number, such as A-10423' }, include_items: { type: 'boolean', description: 'Whether to list the items' } },
        required: ['order_id', 'include_items'],
        additionalProperties: false,
      },
      strict: true,
    },
  },
  {
    type: 'function',
    function: {
      name: 'search_help_center',
      description: 'Search the help center articles.',
      parameters: {
        type: 'object',
        properties: { query: { type: 'string' }, locale: { type: 'string', enum: ['en', 'de', 'fr', 'es', 'it'] }, limit: { type: 'integer', minimum: 1, maximum: 5 } },
        required: ['query', 'locale', 'limit'],
        additionalProperties: false,
      },
      strict: true,
    },
  },
  {
    type: 'function',
    function: {
      name: 'update_delivery_address',
      description: 'Change the delivery address of an order that has not shipped yet.',
      parameters: {
        type: 'object',
        properties: {
          order_id: { type: 'string' },
          address: {
            type: 'object',
            properties: { name: { type: 'string' }, street: { type: 'string' }, postal_code: { type: 'string' }, city: { type: 'string' }, country: { type: 'string', description: 'ISO 3166-1 alpha-2' } },
            required: ['name', 'street', 'postal_code', 'city', 'country'],
            additionalProperties: false,
          },
        },
        required: ['order_id', 'address'],
        additionalProperties: false,
      },
      strict: true,
    },
  },
];

interface Message {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string | null;
  tool_calls?: { id: string; type: 'function'; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
}

/**
 * The body of the `i`-th request of a support chat suite: conversations of three turns, each turn
 * resending the conversation so far (system prompt, user, assistant tool call, tool result,
 * assistant), with tools, `max_completion_tokens`, `temperature` and `metadata`. `stream` adds
 * `stream` and `stream_options` (the API refuses `stream_options` without `stream`). `lastMessage`
 * edits the last user message (a miss).
 */
export function sdkChatBody(i: number, options: { stream?: boolean; lastMessage?: (text: string) => string } = {}): Record<string, unknown> {
  const conversation = Math.floor(i / 3);
  const order = `A-${10_000 + conversation}`;
  const messages: Message[] = [
    { role: 'system', content: SYSTEM_PROMPT },
    { role: 'user', content: `Hello, case ${conversation}: where is my order ${order}? I ordered it last week and the tracking page shows nothing.` },
  ];
  for (let turn = 1; turn <= i % 3; turn++) {
    const call = `call_${conversation}x${turn}Bench`;
    messages.push(
      { role: 'assistant', content: null, tool_calls: [{ id: call, type: 'function', function: { name: 'lookup_order', arguments: JSON.stringify({ order_id: order, include_items: true }) } }] },
      {
        role: 'tool',
        tool_call_id: call,
        content: JSON.stringify({ order_id: order, status: 'shipped', carrier: 'DHL', tracking: `00340434${conversation}${turn}`, shipped_on: `2026-11-${10 + turn}`, items: [{ sku: 'PAN-28', name: 'Cast iron pan 28 cm', qty: 1 }, { sku: 'LID-28', name: 'Glass lid 28 cm', qty: 1 }] }),
      },
      { role: 'assistant', content: `Your order ${order} shipped with DHL on November ${10 + turn}; the tracking number is 00340434${conversation}${turn}. It usually arrives within two working days.` },
      { role: 'user', content: `Thanks. Turn ${turn}: can I still add a second lid to ${order}, or do I need a new order?` },
    );
  }
  const last = messages[messages.length - 1]!;
  if (options.lastMessage) last.content = options.lastMessage(last.content!);
  return {
    model: 'gpt-4o-mini',
    messages,
    tools: TOOLS,
    tool_choice: 'auto',
    parallel_tool_calls: false,
    max_completion_tokens: 800,
    temperature: 0.2,
    metadata: { suite: 'checkout-support', case: `case-${conversation}`, turn: String(i % 3) },
    ...(options.stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  };
}

const ANSWER_SENTENCES = [
  'Thank you for your patience.',
  'I looked the order up: it shipped with DHL and is now at the regional depot.',
  'Parcels from that depot are usually delivered within one or two working days, and DHL sends a text message on the morning of delivery.',
  'A second lid cannot be added to an order that has already shipped, but you can place a new order and choose the same address; shipping is free above 40 euros.',
  'If the parcel has not arrived by Friday, reply here and I will open an investigation with the carrier.',
  'You can also change the delivery day on the DHL page with the tracking number above.',
];

/** The assistant's answer: a few paragraphs, about 2.5 KB. */
const ANSWER = Array.from({ length: 4 }, (_, p) => ANSWER_SENTENCES.slice(p % 2).join(' ')).join('\n\n');

const usage = (completion: number) => ({
  prompt_tokens: 1_187,
  completion_tokens: completion,
  total_tokens: 1_187 + completion,
  prompt_tokens_details: { cached_tokens: 1_024, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
});

/** A non-streamed chat completion as the API returns it, about 3 KB. */
export const SDK_COMPLETION = JSON.stringify(
  {
    id: 'chatcmpl-CbenchQ8n3xJk2Yt7LmZpR4sVwA9',
    object: 'chat.completion',
    created: 1764064800,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [{ index: 0, message: { role: 'assistant', content: ANSWER, refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
    usage: usage(412),
    service_tier: 'default',
    system_fingerprint: 'fp_560af6e559',
  },
  null,
  2,
);

/** Response headers the API sends with a chat completion (content type and length are added by the sender). */
export const SDK_RESPONSE_HEADERS: Record<string, string> = {
  date: 'Wed, 25 Nov 2026 10:00:00 GMT',
  'access-control-expose-headers': 'X-Request-ID',
  'openai-organization': 'user-benchorg',
  'openai-processing-ms': '1834',
  'openai-project': 'proj_BenchProject',
  'openai-version': '2020-10-01',
  'x-envoy-upstream-service-time': '1851',
  'x-ratelimit-limit-requests': '30000',
  'x-ratelimit-limit-tokens': '150000000',
  'x-ratelimit-remaining-requests': '29999',
  'x-ratelimit-remaining-tokens': '149998812',
  'x-ratelimit-reset-requests': '2ms',
  'x-ratelimit-reset-tokens': '0s',
  'x-request-id': 'req_8f1c2a4e6b0d4c7e9a3f5b1d2c4e6a8b',
  'strict-transport-security': 'max-age=31536000; includeSubDomains; preload',
  'cf-cache-status': 'DYNAMIC',
  'x-content-type-options': 'nosniff',
  server: 'cloudflare',
  'cf-ray': '8f3a1b2c4d5e6f70-FRA',
  'alt-svc': 'h3=":443"; ma=86400',
};

/** How many content chunks a streamed answer has: with the role, finish and usage chunks and [DONE], 124 events. */
export const SDK_STREAM_CHUNKS = 120;

/**
 * The `n`-th data line of a streamed answer (0 ≤ n ≤ SDK_STREAM_CHUNKS + 2), as the API sends it
 * with `stream_options.include_usage`; `stamp` goes where the API puts its random padding
 * (`obfuscation`), so that the client can time each event.
 */
export function sdkStreamEvent(n: number, stamp: string): string {
  const words = ANSWER.split(' ');
  let choices: unknown[];
  let usageField: unknown = null;
  if (n === 0) choices = [{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }];
  else if (n <= SDK_STREAM_CHUNKS) choices = [{ index: 0, delta: { content: `${n > 1 ? ' ' : ''}${words[(n - 1) % words.length]}` }, logprobs: null, finish_reason: null }];
  else if (n === SDK_STREAM_CHUNKS + 1) choices = [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }];
  else {
    choices = [];
    usageField = usage(SDK_STREAM_CHUNKS);
  }
  return `data: ${JSON.stringify({ id: 'chatcmpl-CbenchQ8n3xJk2Yt7LmZpR4sVwA9', object: 'chat.completion.chunk', created: 1764064800, model: 'gpt-4o-mini-2024-07-18', service_tier: 'default', system_fingerprint: 'fp_560af6e559', choices, usage: usageField, obfuscation: stamp })}\n\n`;
}
