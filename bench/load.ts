/**
 * The load generator, in its own process: autocannon against one URL with `connections` at once,
 * each request a chat completion body from a rotating set of `distinct` bodies (0: one fixed body);
 * with `sdk`, the headers and bodies the openai SDK sends (sdk.ts), otherwise a one-message body.
 * Prints one JSON line: requests/s, latency p50/p99 (ms), errors, and requests completed each second.
 * Usage: load <json options>
 */
import autocannon from 'autocannon';
import { sdkChatBody, sdkHeaders } from './sdk.js';

interface Options {
  url: string;
  connections: number;
  seconds: number;
  distinct: number;
  /** Send exactly this many requests instead of running for `seconds`. */
  amount?: number;
  method?: string;
  sdk?: boolean;
}

const options = JSON.parse(process.argv[2]!) as Options;
let n = 0;
const body = (i: number): string =>
  JSON.stringify(options.sdk ? sdkChatBody(i) : { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Question number ${i}: what is ${i} + ${i}?` }] });
const perSecond: number[] = [];

const instance = autocannon(
  {
    url: options.url,
    connections: options.connections,
    duration: options.seconds,
    amount: options.amount,
    method: (options.method ?? 'POST') as 'POST',
    headers: options.sdk ? sdkHeaders() : { 'content-type': 'application/json', authorization: 'Bearer bench-key' },
    body: body(0),
    requests: options.distinct > 0 ? [{ setupRequest: (req) => ({ ...req, body: body(n++ % options.distinct) }) }] : undefined,
  },
  (err, result) => {
    if (err) throw err;
    console.log(
      JSON.stringify({
        rps: result.requests.average,
        total: result.requests.total,
        p50: result.latency.p50,
        p99: result.latency.p99,
        errors: result.errors + result.timeouts + result.non2xx,
        perSecond,
      }),
    );
  },
);
(instance as unknown as NodeJS.EventEmitter).on('tick', (tick: { counter: number }) => perSecond.push(tick.counter));
