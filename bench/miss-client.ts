/**
 * The latency client, in its own process: `connections` loops, each sending its next request as
 * soon as the previous answer has fully arrived, for `seconds` or until `amount` requests in all
 * (with `untilStdinEnds`, also until this process's stdin closes; it prints `POLLING` once the
 * first answer came). With `missOf` (the size of a cassette of the `suite`: supportChat by default,
 * or `sdk` for sdkInteraction), each request is a recorded one with its last message edited: a
 * miss whose nearest recording differs in one field. Without it, GETs of `url` (a health check).
 * Prints one JSON line: count, p50/p99/max (ms), and how many requests failed or answered another
 * status than expected (404 for a miss, 200 otherwise).
 * Usage: miss-client <json options>
 */
import http from 'node:http';
import { supportChatBody } from './fixtures.js';
import { sdkChatBody, sdkHeaders } from './sdk.js';

interface Options {
  url: string;
  connections: number;
  seconds: number;
  untilStdinEnds?: boolean;
  amount?: number;
  missOf?: number;
  suite?: 'support' | 'sdk';
}

const options = JSON.parse(process.argv[2]!) as Options;
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
const expected = options.missOf === undefined ? 200 : 404;
const latencies: number[] = [];
let sent = 0;
let unexpected = 0;
const ends = performance.now() + options.seconds * 1000;
let stdinEnded = false;
if (options.untilStdinEnds) {
  process.stdin.on('end', () => (stdinEnded = true)).resume();
}
const going = (): boolean => !stdinEnded && performance.now() < ends;

/** Spread over the whole cassette, so that the nearest recording sits anywhere in it. */
const recorded = (k: number): number => (k * 7919 + 13) % options.missOf!;
const edit = (text: string): string => `${text} (edited)`;
const missBody = (k: number): string => JSON.stringify(options.suite === 'sdk' ? sdkChatBody(recorded(k), { lastMessage: edit }) : supportChatBody(recorded(k), edit));
const missHeaders = options.suite === 'sdk' ? sdkHeaders() : { 'content-type': 'application/json' };

/**
 * A connection that fails (a proxy stalled past its keep-alive timeout resets it) counts as
 * unexpected, and the time until it failed as its latency.
 */
function send(k: number): Promise<void> {
  return new Promise((resolve) => {
    const body = options.missOf === undefined ? undefined : missBody(k);
    const started = performance.now();
    const failed = (): void => {
      latencies.push(performance.now() - started);
      unexpected++;
      resolve();
    };
    const req = http.request(options.url, { method: body === undefined ? 'GET' : 'POST', agent, headers: body === undefined ? {} : missHeaders }, (res) => {
      res.resume();
      res.on('end', () => {
        latencies.push(performance.now() - started);
        if (latencies.length === 1 && options.untilStdinEnds) console.log('POLLING');
        if (res.statusCode !== expected) unexpected++;
        resolve();
      });
      res.on('error', failed);
    });
    req.on('error', failed);
    req.end(body);
  });
}

async function loop(): Promise<void> {
  while (going() && (options.amount === undefined || sent < options.amount)) await send(sent++);
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

await Promise.all(Array.from({ length: options.connections }, () => loop()));
agent.destroy();
latencies.sort((a, b) => a - b);
console.log(JSON.stringify({ count: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1), unexpected }));
