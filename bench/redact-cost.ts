/**
 * Redaction of a chat request as the SDK sends it whose body holds `max_tokens` and a prompt with
 * the word "monkey", against the same request without those words: in-process, the redactor alone,
 * as replay applies it to each incoming request (`redactRequest`) and as recording applies it to
 * each exchange (`redact`, with the API's answer). The two take turns, 8 rounds of 2,000 calls.
 * Prints one JSON line of medians (µs per call).
 */
import { canonicalHeaderKey } from '../src/cassette/go.js';
import type { HeaderMap, NewInteraction } from '../src/cassette/types.js';
import { Redactor } from '../src/redact/redactor.js';
import { chatInteraction, median } from './fixtures.js';
import { SDK_COMPLETION, SDK_RESPONSE_HEADERS, sdkChatBody, sdkHeaders } from './sdk.js';

const headerMap = (headers: Record<string, string>, name: (n: string) => string = (n) => n): HeaderMap =>
  Object.fromEntries(Object.entries(headers).map(([n, v]) => [name(n), [v]]));

function body(words: boolean): string {
  const { max_completion_tokens: limit, ...rest } = sdkChatBody(1, { lastMessage: (text) => `${text} My ${words ? 'monkey' : 'parrot'} chewed the receipt.` });
  return JSON.stringify(words ? { ...rest, max_tokens: limit } : rest);
}

function request(words: boolean) {
  return { url: '/v1/chat/completions', headers: headerMap(sdkHeaders()), body: body(words) };
}

function interaction(words: boolean): NewInteraction {
  const base = chatInteraction(1);
  const requestBody = body(words);
  return {
    request: { ...base.request, headers: headerMap(sdkHeaders(), canonicalHeaderKey), body: requestBody, content_length: Buffer.byteLength(requestBody) },
    response: { ...base.response, headers: headerMap(SDK_RESPONSE_HEADERS, canonicalHeaderKey), body: SDK_COMPLETION },
  };
}

const redactor = new Redactor();
const CALLS = 2000;

/** µs per call of `run` on each input, the inputs taking turns round after round. */
function measure<T>(inputs: [T, T], run: (input: T) => unknown): [number, number] {
  const times: [number[], number[]] = [[], []];
  for (let round = 0; round < 9; round++) {
    for (const i of round % 2 ? [1, 0] : [0, 1]) {
      const started = performance.now();
      for (let c = 0; c < CALLS; c++) run(inputs[i]!);
      // The first round warms both up.
      if (round > 0) times[i]!.push(((performance.now() - started) * 1000) / CALLS);
    }
  }
  return [median(times[0]), median(times[1])];
}

const [requestWith, requestWithout] = measure([request(true), request(false)], (r) => redactor.redactRequest(r));
const [interactionWith, interactionWithout] = measure([interaction(true), interaction(false)], (x) => redactor.redact(x));
console.log(JSON.stringify({ requestWith, requestWithout, interactionWith, interactionWithout, bytes: Buffer.byteLength(body(true)) }));
