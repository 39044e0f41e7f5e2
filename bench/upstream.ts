/**
 * The benchmark's fake upstream, in its own process:
 *   POST /v1/sse?events=N&spacing=MS  an SSE stream; each event carries the time it was written
 *   POST /v1/chat/completions         a realistic non-streamed chat completion
 *   GET  /v1/big?mb=N                 N MB of JSON-like text, sent in 64 KiB writes
 * A request with the SDK's headers (`x-stainless-lang`) to /v1/chat/completions gets the answer the
 * API gives (sdk.ts): a 3 KB completion, or, when its body asks for a stream, 124 SSE events 5 ms
 * apart, each carrying the time it was written, then `data: [DONE]`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SDK_COMPLETION, SDK_RESPONSE_HEADERS, SDK_STREAM_CHUNKS, sdkStreamEvent } from './sdk.js';

const now = (): number => performance.timeOrigin + performance.now();

const completion = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1753124512,
  model: 'gpt-4o-mini-2024-07-18',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! How can I help you today?', refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 9, completion_tokens: 9, total_tokens: 18 },
  service_tier: 'default',
  system_fingerprint: 'fp_34a54ae93c',
});

/** Events `spacing` ms apart from `event(i)` for i < `events`, then `data: [DONE]`. */
function stream(res: http.ServerResponse, headers: http.OutgoingHttpHeaders, events: number, spacing: number, event: (i: number) => string): void {
  res.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  res.flushHeaders();
  let i = 0;
  const send = (): void => {
    if (res.destroyed) return;
    if (i === events) return void res.end('data: [DONE]\n\n');
    res.write(event(i++));
    setTimeout(send, spacing);
  };
  send();
}

const server = http.createServer({ noDelay: true, keepAliveTimeout: 60_000 }, (req, res) => {
  const sdk = req.headers['x-stainless-lang'] !== undefined;
  const chunks: Buffer[] = [];
  if (sdk) req.on('data', (chunk: Buffer) => chunks.push(chunk));
  else req.resume();
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (sdk && url.pathname === '/v1/chat/completions') {
      if (Buffer.concat(chunks).includes('"stream":true')) return stream(res, SDK_RESPONSE_HEADERS, SDK_STREAM_CHUNKS + 3, 5, (i) => sdkStreamEvent(i, String(now())));
      res.writeHead(200, { ...SDK_RESPONSE_HEADERS, 'content-type': 'application/json', 'content-length': Buffer.byteLength(SDK_COMPLETION) });
      return void res.end(SDK_COMPLETION);
    }
    if (url.pathname === '/v1/sse') {
      const events = Number(url.searchParams.get('events') ?? 100);
      const spacing = Number(url.searchParams.get('spacing') ?? 5);
      return stream(res, {}, events, spacing, (i) => `data: {"i":${i},"t":${now()},"choices":[{"index":0,"delta":{"content":" token"}}]}\n\n`);
    }
    if (url.pathname === '/v1/big') {
      const total = Number(url.searchParams.get('mb') ?? 100) * 1024 * 1024;
      const chunk = Buffer.alloc(64 * 1024, '{"token":"lorem ipsum dolor sit amet"},\n');
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': total });
      let sent = 0;
      const pump = (): void => {
        while (sent < total) {
          const piece = chunk.subarray(0, Math.min(chunk.length, total - sent));
          sent += piece.length;
          if (!res.write(piece)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(completion), 'x-request-id': 'req_bench' });
    res.end(completion);
  });
});
server.listen(0, '127.0.0.1', () => console.log(`READY http://127.0.0.1:${(server.address() as AddressInfo).port}`));
