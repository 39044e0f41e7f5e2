/**
 * HTTP trailers, the fields sent after a chunked body: which names a `Trailer` header announces,
 * which fields may go out as trailers, and when an answer can carry them at all. Forwarding relays
 * an upstream's trailers with these rules and replay sends recorded ones with the same.
 */
import type { IncomingMessage } from 'node:http';
import { FIELD_NAME, UNSENDABLE_VALUE } from './headers.js';

/**
 * Fields that frame the message: never a trailer (RFC 9110 6.5.1), and Go's client fails a whole
 * response whose `Trailer` header announces one.
 */
const FRAMING: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding', 'trailer']);

const sendableName = (name: string): boolean => FIELD_NAME.test(name) && !FRAMING.has(name.toLowerCase());

/** The names `Trailer` header values announce (comma-separated lists), framing fields and non-tokens left out. */
export function announcedTrailers(values: readonly string[]): string[] {
  return values.flatMap((value) => value.split(',').map((name) => name.trim())).filter(sendableName);
}

/** Trailer fields as `[name, value]` pairs from `[name, value, name, value, …]`, keeping only what HTTP can send. */
export function sendableTrailers(raw: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    if (sendableName(name) && !UNSENDABLE_VALUE.test(value)) out.push([name, value]);
  }
  return out;
}

/** The same from a map of lists (a cassette's `trailer`), with the names it holds that can be announced. */
export function trailersOf(map: Readonly<Record<string, readonly string[]>> | undefined): { names: string[]; fields: [string, string][] } {
  const names = Object.keys(map ?? {}).filter(sendableName);
  return { names, fields: sendableTrailers(names.flatMap((name) => map![name]!.flatMap((value) => [name, value]))) };
}

/**
 * Whether Node sends the answer to `req` with `status` chunked, the only HTTP/1.1 framing with
 * room for trailers, when no Content-Length is set: not to an HTTP/1.0 client, nor for a HEAD or a
 * status without a body. Announcing trailers on any other answer makes Node's writeHead throw.
 */
export function carriesTrailers(req: IncomingMessage, status: number): boolean {
  const http11 = req.httpVersionMajor > 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor >= 1);
  return http11 && req.method !== 'HEAD' && status >= 200 && status !== 204 && status !== 304;
}
