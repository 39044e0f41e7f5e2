/**
 * The streaming client, in its own process: `streams` SSE requests at once; for every event, the
 * time from the upstream writing it (the `t` it carries) to this client reading it; and the time
 * from sending each request to its first event. With `sdk`, the request is a streamed chat
 * completion as the openai SDK sends it (sdk.ts), and the time is read from the chunk's
 * `obfuscation` field. Prints one JSON line (ms).
 * Usage: sse-client <json options>
 */
import http from 'node:http';
import { sdkChatBody, sdkHeaders } from './sdk.js';

interface Options {
  url: string;
  streams: number;
  sdk?: boolean;
}

const options = JSON.parse(process.argv[2]!) as Options;
const now = (): number => performance.timeOrigin + performance.now();
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

function stream(k: number): Promise<{ latencies: number[]; first: number }> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = [];
    const sent = now();
    let first = NaN;
    let buffer = '';
    const headers = options.sdk ? sdkHeaders({ stream: true }) : { 'content-type': 'application/json' };
    const req = http.request(options.url, { method: 'POST', agent, headers }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const at = now();
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const t = /"(?:t|obfuscation)":"?([\d.]+)/.exec(event)?.[1];
          if (t === undefined) continue;
          if (Number.isNaN(first)) first = at - sent;
          latencies.push(at - Number(t));
        }
      });
      res.on('end', () => resolve({ latencies, first }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.sdk ? JSON.stringify(sdkChatBody(k, { stream: true })) : '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"stream please"}]}');
  });
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

const results = await Promise.all(Array.from({ length: options.streams }, (_, k) => stream(k)));
const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
const firsts = results.map((r) => r.first).sort((a, b) => a - b);
agent.destroy();
console.log(JSON.stringify({ events: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99), first: percentile(firsts, 50) }));
