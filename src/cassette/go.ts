/**
 * Go spellings the format inherits: canonical header names (textproto.CanonicalMIMEHeaderKey)
 * and durations (time.Duration.String / time.ParseDuration).
 */

import { FIELD_NAME as HEADER_NAME } from '../http/headers.js';

export { HEADER_NAME };

/** Header names repeat from request to request: each is worked out once (up to a bound). */
const canonical = new Map<string, string>();

/** `x-request-id` → `X-Request-Id`; a name with a byte Go would not touch comes back unchanged. */
export function canonicalHeaderKey(name: string): string {
  let known = canonical.get(name);
  if (known === undefined) {
    known = spellCanonical(name);
    if (canonical.size < 4096) canonical.set(name, known);
  }
  return known;
}

function spellCanonical(name: string): string {
  if (!HEADER_NAME.test(name)) return name;
  let out = '';
  let upper = true;
  for (const ch of name) {
    out += upper ? ch.toUpperCase() : ch.toLowerCase();
    upper = ch === '-';
  }
  return out;
}

/** Formats a non-negative nanosecond count exactly as Go's Duration.String does. */
export function formatDuration(nanos: number | bigint): string {
  let u = BigInt(nanos);
  const negative = u < 0n;
  if (negative) u = -u;
  let text: string;
  if (u === 0n) return '0s';
  if (u < 1_000n) text = `${u}ns`;
  else if (u < 1_000_000n) text = `${fraction(u, 3)}µs`;
  else if (u < 1_000_000_000n) text = `${fraction(u, 6)}ms`;
  else {
    const seconds = fraction(u % 60_000_000_000n, 9);
    let minutes = u / 60_000_000_000n;
    const hours = minutes / 60n;
    minutes %= 60n;
    text = hours > 0n ? `${hours}h${minutes}m${seconds}s` : minutes > 0n ? `${minutes}m${seconds}s` : `${seconds}s`;
  }
  return negative ? `-${text}` : text;
}

/** v / 10^digits with the fraction's trailing zeros (and a bare point) left out. */
function fraction(v: bigint, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const whole = v / scale;
  const frac = (v % scale).toString().padStart(digits, '0').replace(/0+$/, '');
  return frac ? `${whole}.${frac}` : `${whole}`;
}

const UNIT_NANOS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3, // U+00B5
  'μs': 1e3, // U+03BC
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};
const DURATION = /^[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
const GROUP = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;

/** Parses Go duration text to nanoseconds; undefined when Go would reject it. */
export function parseDuration(text: string): number | undefined {
  if (text === '0' || text === '+0' || text === '-0') return 0;
  if (!DURATION.test(text)) return undefined;
  let total = 0;
  for (const [, value, unit] of text.matchAll(GROUP)) total += Number(value) * UNIT_NANOS[unit!]!;
  return text.startsWith('-') ? -total : total;
}
