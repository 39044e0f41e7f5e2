/**
 * The faults that change how a streamed answer goes out, as a transform of its events: the same
 * for a replayed stream (the recorded events, as paced) and a forwarded one (the upstream's, cut
 * into events as they arrive).
 */
import { PassThrough, type Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProxyError } from '../errors.js';
import type { StreamFraming } from '../providers/profile.js';
import type { Fault } from './catalogue.js';

/** How long after its last event a dropped stream is cut. */
const DROP_PAUSE_MS = 100;

export type EventTransform = (events: AsyncIterable<Uint8Array>) => AsyncIterable<Uint8Array>;

/** The transform the stream faults among `faults` make, with the ones it applies; undefined when there are none. */
export function streamFaults(faults: readonly Fault[], framing: StreamFraming): { transform: EventTransform; applied: Fault[] } | undefined {
  let delayMs = 0;
  let dropAfter: number | undefined;
  let noFinal = false;
  let malformed = false;
  const applied: Fault[] = [];
  for (const fault of faults) {
    if (fault.kind === 'slow-events') delayMs = fault.ms;
    else if (fault.kind === 'drop-after') dropAfter = fault.events;
    else if (fault.kind === 'no-final-event') noFinal = true;
    else if (fault.kind === 'malformed-event') malformed = true;
    else continue;
    applied.push(fault);
  }
  if (applied.length === 0) return undefined;
  async function* transform(events: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    let sent = 0;
    let broken = !malformed;
    for await (const event of events) {
      if (dropAfter !== undefined && sent >= dropAfter) break;
      if (noFinal && framing.isFinal(event)) continue;
      if (delayMs > 0) await sleep(delayMs);
      let out = event;
      if (!broken) {
        const bad = breakJson(event);
        if (bad) [out, broken] = [bad, true];
      }
      yield out;
      sent++;
    }
    // Never a clean end, even for a stream that had no more than that many events. The cut comes a
    // moment after the last event, as a real one does: a client's fetch drops bytes it had not read
    // yet when the connection breaks, so a cut at once would hide the events sent.
    if (dropAfter === undefined) return;
    await sleep(DROP_PAUSE_MS);
    throw new ProxyError('upstream_unreachable', `fault drop-after=${dropAfter}: the stream was cut after ${sent} events, as an upstream that broke off would cut it`);
  }
  return { transform, applied };
}

/**
 * The event with its first JSON `data` value cut in half (a client's parser then fails on it);
 * undefined for an event that carries no JSON.
 */
export function breakJson(event: Uint8Array): Uint8Array | undefined {
  const text = Buffer.from(event.buffer, event.byteOffset, event.byteLength).toString('utf8');
  const found = /^data: ?([{[].*)$/m.exec(text);
  if (!found || !isJson(found[1]!)) return undefined;
  const value = found[1]!;
  const start = found.index + found[0].length - value.length;
  return Buffer.from(text.slice(0, start) + value.slice(0, Math.ceil(value.length / 2)) + text.slice(start + value.length));
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * A body's events as they arrive, cut where `framing` finds each one's end; a trailing partial event
 * comes last. The body is taken at once: a reader that listens later (the recording's copy of an
 * upstream answer) would otherwise see chunks go by before these are read.
 */
export function eventsOf(body: Readable, framing: StreamFraming): AsyncIterable<Uint8Array> {
  const taken = body.pipe(new PassThrough());
  body.once('error', (err) => taken.destroy(err));
  return cut(taken, framing);
}

async function* cut(body: AsyncIterable<Buffer>, framing: StreamFraming): AsyncGenerator<Uint8Array> {
  const boundaries = framing.boundaries();
  let pending: Buffer[] = [];
  for await (const chunk of body) {
    const ends: number[] = [];
    boundaries.scan(chunk, (end) => ends.push(end));
    let start = 0;
    for (const end of ends) {
      pending.push(chunk.subarray(start, end));
      yield Buffer.concat(pending);
      pending = [];
      start = end;
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  if (pending.length > 0) yield Buffer.concat(pending);
}
