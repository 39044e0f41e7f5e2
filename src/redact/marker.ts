/**
 * What a redacted value becomes: `[REDACTED:hmac-sha256:<16 hex digits>]`, the first 64 bits of
 * HMAC-SHA256, under the redaction key, of the value's JSON text (a string in its quotes). The same
 * value always gives the same marker and two values never one marker, so a redacted value the user
 * matches on (a --redact-body-field value, a --match-header header) still decides matching, while
 * the value itself never reaches a cassette.
 *
 * Cassettes written before digests hold the bare `[REDACTED]`, which matched any value; it still
 * does (see `holdsBareMarker`).
 */
import { createHmac, createSecretKey } from 'node:crypto';
import { canonicalJson } from '../json-path.js';

/** The marker of recordings made before digests, and of log lines (which need no matching). */
export const REDACTED = '[REDACTED]';

/**
 * The key when none is set: public, so that a cassette replays on any fresh clone without set-up.
 * Anyone can then check a guess against a digest; --redact-key (CASSETTE_PROXY_REDACT_KEY) stops that.
 */
export const DEFAULT_REDACT_KEY = 'cassette-proxy public redaction key v1';

/** A shorter key could be guessed, which would let anyone check guesses of the values again. */
export const MIN_REDACT_KEY_LENGTH = 16;

/** Hex digits kept: 64 bits, so two different values share a marker by chance about once in 10^19. */
const DIGEST_DIGITS = 16;

/**
 * In the form requests are matched in (never on disk): a credential the built-in rules found, which
 * matches any credential in its place, so that a suite recorded with a real key replays with
 * another. Only what the user chose to match on keeps its digest (Redactor.redactRequest).
 */
export const ANY_CREDENTIAL = '[REDACTED:credential]';

/** Maps a value (a string, or any JSON value) to its marker. */
export type Mark = (value: unknown) => string;

/** Why a key cannot be used, or undefined when it can (the key itself is never repeated). */
export function redactKeyProblem(key: string): string | undefined {
  return key.length < MIN_REDACT_KEY_LENGTH ? `must be at least ${MIN_REDACT_KEY_LENGTH} characters` : undefined;
}

/**
 * The marker function for a key. JSON text (canonical: sorted keys) makes it one-to-one over every
 * JSON value, lone UTF-16 surrogates included, and keeps the string "5" apart from the number 5.
 */
export function digestMarker(key: string = DEFAULT_REDACT_KEY): Mark {
  // A KeyObject made once: given the string, createHmac would turn it into a key on every call.
  const secret = createSecretKey(key, 'utf8');
  // The same few credentials arrive on every request, and an HMAC costs more than the rest of
  // redacting a request's headers: recent markers are kept (in memory only, bounded).
  const recent = new Map<string, string>();
  return (value) => {
    const text = canonicalJson(value);
    let marker = recent.get(text);
    if (marker === undefined) {
      marker = `[REDACTED:hmac-sha256:${createHmac('sha256', secret).update(text, 'utf8').digest('hex').slice(0, DIGEST_DIGITS)}]`;
      if (text.length <= MAX_REMEMBERED_LENGTH) {
        if (recent.size >= MAX_REMEMBERED) recent.clear();
        recent.set(text, marker);
      }
    }
    return marker;
  };
}

/** Markers remembered per key, and the longest value remembered: enough for every credential of a busy sidecar, little memory. */
const MAX_REMEMBERED = 1024;
const MAX_REMEMBERED_LENGTH = 1024;

const MARK = String.raw`\[REDACTED(?::hmac-sha256:[0-9a-f]{${DIGEST_DIGITS}}|:credential)?\]`;
/** A marker alone, or after an authorization scheme (`Bearer [REDACTED:…]`). */
const REDACTED_VALUE = new RegExp(String.raw`^(?:[A-Za-z0-9!#$%&'*+.^_\`|~-]+[ \t]+)?${MARK}$`);

/** True for a value the redactor wrote (so redacting again leaves it as it is, and scan finds it clean). */
export function isRedacted(value: string): boolean {
  return value.length <= 100 && REDACTED_VALUE.test(value);
}

/** A bare marker as text or percent-encoded (a query value, a form body). */
const BARE = /\[REDACTED\]|%5[Bb]REDACTED%5[Dd]/;
/** A digest marker (or ANY_CREDENTIAL) as text or percent-encoded; groups 1 and 2 keep the brackets' spelling. */
const DIGEST = new RegExp(String.raw`(\[|%5[Bb])REDACTED(?::|%3[Aa])(?:hmac-sha256(?::|%3[Aa])[0-9a-f]{${DIGEST_DIGITS}}|credential)(\]|%5[Dd])`, 'g');

/** The text with every digest marker but those in `kept` made ANY_CREDENTIAL. */
export function anyCredential(text: string, kept: ReadonlySet<string>): string {
  return text.includes('REDACTED') ? text.replace(DIGEST, (marker) => (kept.has(marker) ? marker : ANY_CREDENTIAL)) : text;
}

/** A JSON string that is a scheme and a bare marker: a secret header's value (JSON in a match key). */
const SCHEME_AND_BARE = /"[A-Za-z0-9!#$%&'*+.^_`|~-]+ \[REDACTED\]"/g;

/**
 * True when text (a recording's match key) holds a bare marker: the recording was made before
 * digests, and each redacted value in it matches any value. Such a recording is matched with every
 * digest made bare on both sides (`withBareMarkers`).
 */
export function holdsBareMarker(text: string): boolean {
  return BARE.test(text);
}

/**
 * The text with every digest marker (and ANY_CREDENTIAL) made bare, and a JSON string that is a scheme and a marker
 * (`"Bearer [REDACTED:…]"`) made the bare marker alone, as older versions wrote a secret header.
 */
export function withBareMarkers(text: string): string {
  return text.includes('REDACTED') ? text.replace(DIGEST, '$1REDACTED$2').replace(SCHEME_AND_BARE, `"${REDACTED}"`) : text;
}
