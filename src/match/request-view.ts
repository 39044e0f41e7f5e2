/**
 * The parts of a request that take part in matching, normalised so that equal requests look
 * equal: JSON bodies parsed (key order and whitespace gone, ignored fields removed), form bodies
 * field by field (form.ts), query parameters sorted by name, chosen headers by lower-case name.
 * Scheme, host and every other header never take part, so a cassette replays whatever the
 * upstream and whatever the SDK version.
 */
import { createHash } from 'node:crypto';
import type { Body, HeaderMap } from '../cassette/types.js';
import { toBody } from '../cassette/codec.js';
import type { MatchPreparation } from '../exchange/hooks.js';
import { canonicalJson, parseJsonBody, removePaths, type JsonPath } from '../json-path.js';
import { DIGEST_ABOVE, type DigestedBody } from '../read-body.js';
import { formBody, partValue, type FormBody } from './form.js';
import { normalizeJson, normalizeText } from './normalize.js';

/** `digest`: a body above DIGEST_ABOVE, matched by the SHA-256 of its bytes alone. */
export type BodyView = { kind: 'json'; value: unknown } | { kind: 'bytes'; bytes: Buffer } | { kind: 'digest'; size: number; sha256: string } | FormBody;

export interface RequestView {
  method: string;
  path: string;
  /** [name, value] pairs sorted by name; values of one name keep their order. */
  query: [string, string][];
  /** Lower-case header name → values, for the headers chosen with --match-header only. */
  headers: Record<string, string[]>;
  body: BodyView;
}

export interface MatchRules {
  /** Body fields left out of matching (--match-ignore). */
  ignore: readonly JsonPath[];
  /** Headers that must match too (--match-header), any casing. */
  headers: readonly string[];
  /** The beforeMatch hooks (exchange/hooks.ts), applied to both sides: redaction, --match-normalize. */
  prepare?: MatchPreparation;
  /**
   * The bare redaction marker older recordings hold matches any value (redact/marker.ts):
   * `holds(key)` says a key has one, `bare(key)` is the key with every digest marker made bare.
   */
  bareMarkers?: { holds: (key: string) => boolean; bare: (key: string) => string };
}

export class RequestViewer {
  private readonly headerNames: string[];
  private readonly normalize: ((text: string) => string) | undefined;

  constructor(private readonly rules: MatchRules) {
    this.headerNames = [...new Set(rules.headers.map((h) => h.toLowerCase()))].sort();
    this.normalize = rules.prepare?.text;
  }

  /** `url` may be absolute (a recording) or a path with query (an incoming request). */
  view(method: string, url: string, rawHeaders: HeaderMap | NodeJS.Dict<string | string[]>, rawBody: Body | Buffer | DigestedBody | undefined): RequestView {
    let headers: HeaderMap = {};
    for (const [name, value] of Object.entries(rawHeaders)) if (value !== undefined) headers[name] = Array.isArray(value) ? value : [value];
    // A body above DIGEST_ABOVE, incoming (digested as it arrived) or recorded, is its digest: the
    // hooks (redaction, --match-normalize) and --match-ignore never see it.
    const digest = digestOf(rawBody);
    let body: Body = digest || rawBody === undefined ? '' : Buffer.isBuffer(rawBody) ? toBody(rawBody) : (rawBody as Body);
    const prepare = this.rules.prepare?.request;
    if (prepare) ({ url, headers, body } = prepare({ url, headers, body }));
    const parsed = new URL(url, 'http://cassette-proxy.invalid');
    const normalize = this.normalize;
    const params: [string, string][] = normalize ? [...parsed.searchParams].map(([name, value]) => [name, normalize(value)]) : [...parsed.searchParams];
    const query = params.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const lower: Record<string, string[]> = {};
    if (this.headerNames.length > 0) {
      const byLower = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
      for (const name of this.headerNames) {
        const values = byLower.get(name);
        lower[name] = values === undefined ? [] : Array.isArray(values) ? values : [values];
      }
    }
    return { method: method.toUpperCase(), path: parsed.pathname, query, headers: lower, body: digest ?? this.bodyView(body, headerValue(headers, 'content-type')) };
  }

  /**
   * Everything that takes part in matching, in one canonical string: the index key. A Map hashes
   * it far faster than a digest would, at the cost of holding each distinct request once.
   */
  key(view: RequestView): string {
    const head = `${view.method} ${view.path}\n${JSON.stringify(view.query)}\n${JSON.stringify(view.headers)}\n`;
    const { body } = view;
    if (body.kind === 'json') return `${head}json:${canonicalJson(body.value)}`;
    // A file is in the key by its digest: the key stays short whatever the upload's size.
    if (body.kind === 'digest') return `${head}digest:${body.sha256}`;
    if (body.kind === 'form') return `${head}form:${body.encoding}:${canonicalJson(body.parts.map((part) => [part.name, partValue(part)]))}`;
    return `${head}bytes:${body.bytes.toString('latin1')}`;
  }

  /**
   * The key a recording is indexed under, and whether it holds a bare marker: a recording made
   * before redacted values were digests, whose redacted values match any value. Such a key has
   * every digest made bare, and `bareKey` gives a request that misses its key to try again.
   */
  recordedKey(key: string): { key: string; bare: boolean } {
    return this.rules.bareMarkers?.holds(key) ? { key: this.rules.bareMarkers.bare(key), bare: true } : { key, bare: false };
  }

  /** A request's key with every redaction digest made bare, to match recordings that `recordedKey` says are bare. */
  bareKey(key: string): string {
    return this.rules.bareMarkers ? this.rules.bareMarkers.bare(key) : key;
  }

  private bodyView(body: Body | Buffer | undefined, contentType: string | undefined): BodyView {
    const bytes = body === undefined ? Buffer.alloc(0) : typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    const first = firstNonSpace(bytes);
    if (first === 0x7b || first === 0x5b) {
      try {
        const value: unknown = parseJsonBody(bytes.toString('utf8'));
        removePaths(value, this.rules.ignore);
        if (this.normalize) normalizeJson(value, this.normalize);
        return { kind: 'json', value };
      } catch {
        // Not JSON after all, or nested too deep to walk (json-path.ts): compared byte for byte.
      }
    }
    const form = formBody(contentType, bytes, { ignore: this.rules.ignore, normalize: this.normalize });
    if (form) return form;
    return { kind: 'bytes', bytes: this.normalize ? normalizeText(bytes, this.normalize) : bytes };
  }
}

/** The digest view of a body above DIGEST_ABOVE; undefined for a smaller one. */
function digestOf(body: Body | Buffer | DigestedBody | undefined): BodyView | undefined {
  if (body === undefined) return undefined;
  if (typeof body === 'object' && 'kind' in body) return { kind: 'digest', size: body.size, sha256: body.sha256 };
  // A recorded body: a string's UTF-8 length is at least its length, at most three times it.
  if (body.length * (typeof body === 'string' ? 3 : 1) <= DIGEST_ABOVE) return undefined;
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  return size > DIGEST_ABOVE ? { kind: 'digest', size, sha256: createHash('sha256').update(body).digest('hex') } : undefined;
}

function headerValue(headers: HeaderMap, lowerName: string): string | undefined {
  for (const [name, values] of Object.entries(headers)) if (name.toLowerCase() === lowerName) return values[0];
  return undefined;
}

function firstNonSpace(bytes: Buffer): number | undefined {
  for (const byte of bytes) if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) return byte;
  return undefined;
}
