/**
 * Sends a recorded response: the recorded status and headers (framing headers made right for the
 * body actually sent), a JSON or binary body in one piece, and a streamed body event by event; the
 * recorded trailers after the body, chunked, when the client's connection can carry them. With
 * recorded pacing, the headers wait the recorded `duration` and each event keeps its recorded
 * offset, both divided by the speed factor; a cassette without offsets gets the first-byte delay only.
 */
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { HEADER_NAME, parseDuration } from '../cassette/go.js';
import { EXTENSION_KEY, type Interaction } from '../cassette/types.js';
import type { Reply } from '../exchange/hooks.js';
import { HOP_BY_HOP, UNSENDABLE_VALUE } from '../http/headers.js';
import { carriesTrailers, trailersOf } from '../http/trailers.js';
import type { ReplayLatency } from '../mode.js';
import type { StreamFraming } from '../providers/profile.js';

export interface Pacing {
  latency: ReplayLatency;
  /** Divides every recorded delay: 2 replays twice as fast. */
  speed: number;
}

/**
 * Says how a replayed answer was found: `exact`, or `nearest; interaction=<id>; diffs=<n>` for a
 * miss answered by its nearest recording (`--on-miss nearest`). Set on replay only, never recorded.
 */
export const MATCH_HEADER = 'x-cassette-match';

/**
 * Framing and connection headers: the proxy's own connection to the client decides these. And
 * MATCH_HEADER, which this proxy sets: one recorded through another cassette-proxy is not replayed.
 */
const NOT_REPLAYED: ReadonlySet<string> = new Set([...HOP_BY_HOP, 'content-length', MATCH_HEADER]);

interface Prepared {
  headers: string[];
  body: Buffer;
  /** The recorded trailers HTTP can send: the `Trailer` header's value, and the fields after the body. */
  trailers: { announce: string; fields: [string, string][] } | undefined;
  statusMessage: string | undefined;
  /** The events of a streamed answer, as its provider frames them; undefined for one sent whole. */
  events: Uint8Array[] | undefined;
  framing: StreamFraming;
}

/** The parts of a recorded answer, worked out once per interaction instead of once per request. */
const prepared = new WeakMap<Interaction, Prepared>();

function prepare(interaction: Interaction, framing: StreamFraming): Prepared {
  let ready = prepared.get(interaction);
  if (ready?.framing === framing) return ready;
  const { response } = interaction;
  const headers: string[] = [];
  let contentType: string | undefined;
  for (const [name, values] of Object.entries(response.headers)) {
    const lower = name.toLowerCase();
    // Framing headers are the proxy's to set; a hand-edited name or value HTTP cannot carry is left out.
    if (NOT_REPLAYED.has(lower) || !HEADER_NAME.test(name)) continue;
    if (lower === 'content-type') contentType = values[0];
    for (const value of values) if (!UNSENDABLE_VALUE.test(value)) headers.push(name, value);
  }
  const body = typeof response.body === 'string' ? Buffer.from(response.body, 'utf8') : Buffer.from(response.body);
  const events = framing.isStream(contentType) ? framing.split(body) : undefined;
  const { names, fields } = trailersOf(response.trailer);
  const trailers = names.length > 0 ? { announce: names.join(', '), fields } : undefined;
  ready = { headers, body, trailers, statusMessage: response.status.replace(/^\d+\s*/, '') || undefined, events, framing };
  prepared.set(interaction, ready);
  return ready;
}

export interface ReplaySettings {
  pacing: Pacing;
  /** Told when an event stream starts; what it returns is called when the stream ends. */
  onStream?: () => () => void;
}

/**
 * Sends `reply` (its `match` goes in MATCH_HEADER), its head once its `beforeHead` resolved, its
 * events as its `events` makes them; `framing`: how the exchange's provider frames a streamed answer.
 */
export async function sendRecorded(res: ServerResponse, reply: Reply, framing: StreamFraming, { pacing, onStream }: ReplaySettings): Promise<void> {
  const { interaction, match } = reply;
  const { response } = interaction;
  const paced = pacing.latency === 'recorded';
  // Absolute deadlines, so that timer lateness does not add up over a long stream.
  if (paced) await waitUntil(performance.now() + (parseDuration(response.duration) ?? 0) / 1e6 / pacing.speed);
  if (reply.beforeHead) {
    await reply.beforeHead().catch((err: unknown) => {
      res.destroy();
      throw err;
    });
  }
  const headersAt = performance.now();

  const { headers: recorded, body, trailers, statusMessage, events } = prepare(interaction, framing);
  if (res.destroyed) return;
  const headers = [...recorded, MATCH_HEADER, match];
  // Trailers need a chunked body: an HTTP/1.0 client, a HEAD, a 204 or a 304 gets the body alone, with its length.
  const trailing = trailers && carriesTrailers(res.req, response.code) ? trailers : undefined;
  if (trailing) {
    headers.push('Trailer', trailing.announce);
    res.addTrailers(trailing.fields);
  } else if (!events) {
    headers.push('Content-Length', String(body.length));
  }

  if (!events) {
    res.writeHead(response.code, statusMessage, headers);
    res.end(body);
    return;
  }
  res.writeHead(response.code, statusMessage, headers);
  res.flushHeaders();
  if (onStream) res.once('close', onStream());
  const offsets = paced ? interaction[EXTENSION_KEY]?.event_offsets_ms : undefined;
  const source = pacedEvents(events, offsets, headersAt, pacing.speed);
  for await (const event of reply.events ? reply.events(source) : source) {
    if (res.destroyed) return;
    if (!res.write(event)) await drainOrClose(res);
  }
  res.end();
}

/** The recorded events, each at its recorded offset (divided by `speed`) after the head when there are offsets. */
async function* pacedEvents(events: Uint8Array[], offsets: number[] | undefined, headersAt: number, speed: number): AsyncGenerator<Uint8Array> {
  for (const [i, event] of events.entries()) {
    const offset = offsets?.[i];
    if (offset !== undefined) await waitUntil(headersAt + offset / speed);
    yield event;
  }
}

/** Waits for room in the socket, or for the client to leave; leaves no listener behind either way. */
async function drainOrClose(res: ServerResponse): Promise<void> {
  const done = new AbortController();
  try {
    await Promise.race([once(res, 'drain', { signal: done.signal }), once(res, 'close', { signal: done.signal })]);
  } finally {
    done.abort();
  }
}

function waitUntil(deadline: number): Promise<void> | undefined {
  const wait = deadline - performance.now();
  return wait > 0 ? sleep(wait) : undefined;
}
