/** Interactions shaped like real traffic, for the cassette benchmarks. */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cassetteText, serializeInteraction } from '../src/cassette/codec.js';
import { writeAtomically } from '../src/cassette/store.js';
import type { NewInteraction } from '../src/cassette/types.js';

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

/** A cassette file holding `count` chat interactions, in a fresh temporary folder. */
export async function cassetteOf(count: number): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cassette-bench-'));
  const file = path.join(dir, 'bench.yaml');
  const blocks = Array.from({ length: count }, (_, id) => serializeInteraction({ id, ...chatInteraction(id) }));
  await writeAtomically(file, [Buffer.from(cassetteText(blocks))]);
  return file;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
