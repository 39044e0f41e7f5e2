/**
 * The leak guard: finds what still looks like a credential in a recorded interaction. It backs
 * `cassette-proxy scan`, and tests hold the redactor to it. It reads the same definitions as the
 * redactor (secrets.ts), so `cassette-proxy redact` fixes every finding, given the --redact-header
 * flag a finding names.
 */
import { canDecode, storedEncoding } from '../cassette/decode.js';
import type { Body, HeaderMap, Interaction } from '../cassette/types.js';
import { headerValue } from '../http/headers.js';
import { parseJsonBody } from '../json-path.js';
import { isRedacted } from './marker.js';
import {
  eachJsonField,
  fieldSecrets,
  headerSecrets,
  holdsSecret,
  isSecretField,
  isSecretParam,
  looksLikeCustomSecretHeader,
  mayHoldSecretField,
  multipartBoundary,
  multipartFields,
  secretHeaderSet,
  secretLiterals,
  shapesIn,
  type Literal,
} from './secrets.js';

export interface Leak {
  /** Where, e.g. `request.headers.Authorization`. */
  where: string;
  /** What it looks like, e.g. `an OpenAI key (sk-…)`. */
  what: string;
  /** A header the built-in rules do not redact: `--redact-header <header>` makes redact (and recording) redact it. */
  header?: string;
  /** What fixes it, when `cassette-proxy redact` cannot. */
  fix?: string;
}

export function findLeaks(interaction: Pick<Interaction, 'request' | 'response'>, extraHeaders: readonly string[] = []): Leak[] {
  const secretHeaders = secretHeaderSet(extraHeaders);
  const builtin = secretHeaderSet();
  const leaks: Leak[] = [];
  /** Credentials the request still holds: an echo of one in the response is a leak too. */
  const sent = new Set<string>();
  const { request, response } = interaction;

  const shapes = (where: string, value: string): void => {
    for (const what of shapesIn(value)) leaks.push({ where, what });
  };
  const echoes = (where: string, value: string, literals: readonly Literal[]): void => {
    if (literals.some(([form]) => value.includes(form)) && !leaks.some((leak) => leak.where === where)) {
      leaks.push({ where, what: 'a credential that the request sent' });
    }
  };
  const headers = (where: string, map: HeaderMap | undefined, literals?: readonly Literal[]): void => {
    for (const [name, values] of Object.entries(map ?? {})) {
      const lower = name.toLowerCase();
      for (const value of values) {
        const at = `${where}.${name}`;
        if (secretHeaders.has(lower)) {
          if (isRedacted(value)) continue;
          leaks.push({ where: at, what: 'a credential header that was not redacted', ...(!builtin.has(lower) && { header: name }) });
          for (const secret of headerSecrets(name, value)) sent.add(secret);
        } else if (looksLikeCustomSecretHeader(name, value)) {
          leaks.push({ where: at, what: 'what looks like a credential, in a header the built-in rules do not redact', header: name });
        } else {
          shapes(at, value);
          if (literals) echoes(at, value, literals);
        }
      }
    }
  };
  const params = (where: string, pairs: Iterable<[string, string]>): void => {
    for (const [name, value] of pairs) {
      if (isSecretParam(name) && !isRedacted(value) && value !== '') {
        leaks.push({ where: `${where}${name}`, what: 'a credential parameter that was not redacted' });
        sent.add(value);
      }
    }
  };

  shapes('request.url', request.url);
  if (request.url.includes('?')) params('request.url?', safeUrl(request.url)?.searchParams ?? []);
  for (const [name, values] of Object.entries(request.form ?? {})) {
    params('request.form.', values.map((value): [string, string] => [name, value]));
    for (const value of values) shapes(`request.form.${name}`, value);
  }
  headers('request.headers', request.headers);
  if (request.body !== undefined) {
    shapes('request.body', latin1(request.body));
    requestBodyFields(request.body, headerValue(request.headers, 'content-type'), (field, secrets) => {
      leaks.push({ where: `request.body.${field}`, what: 'a credential field that was not redacted' });
      for (const secret of secrets) sent.add(secret);
    });
  }

  const literals = secretLiterals(sent);
  shapes('response.status', response.status);
  echoes('response.status', response.status, literals);
  headers('response.headers', response.headers, literals);
  headers('response.trailer', response.trailer, literals);
  const body = latin1(response.body);
  const coding = storedEncoding(response.headers);
  if (body.length > 0 && !response.uncompressed && coding !== undefined) {
    // This check cannot look inside it (the recorder never stores one); redact decodes the codings it knows.
    const what = 'a compressed body scan cannot check';
    leaks.push(canDecode(coding) ? { where: 'response.body', what } : { where: 'response.body', what: `${what} (${coding}, which redact cannot decode)`, fix: 'record this interaction again with cassette-proxy' });
  }
  shapes('response.body', body);
  echoes('response.body', body, typeof response.body === 'string' ? literals : literals.map(([form, secret]): Literal => [Buffer.from(form, 'utf8').toString('latin1'), secret]));
  return leaks;
}

/** Secret fields of a request body that still hold a value: multipart, urlencoded or JSON, as the redactor reads them. */
function requestBodyFields(body: Body, type: string | undefined, found: (field: string, secrets: string[]) => void): void {
  const boundary = multipartBoundary(type);
  if (boundary) {
    const view = typeof body === 'string' ? Buffer.from(body, 'utf8').toString('latin1') : latin1(body);
    for (const [name, start, end] of multipartFields(view, boundary)) {
      const value = Buffer.from(view.slice(start, end), 'latin1').toString('utf8');
      if (isSecretParam(name) && !isRedacted(value) && value !== '') found(name, [value]);
    }
    return;
  }
  if (typeof body !== 'string') return;
  if (type?.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    for (const [name, value] of new URLSearchParams(body)) if (isSecretParam(name) && !isRedacted(value) && value !== '') found(name, [value]);
    return;
  }
  if (!/^\s*[{[]/.test(body) || !mayHoldSecretField(body)) return;
  try {
    eachJsonField(parseJsonBody(body), (key, child) => {
      if (isSecretField(key) && holdsSecret(child)) found(key, fieldSecrets(child));
    });
  } catch {
    // Not JSON, or nested too deep to walk: the shape checks still ran.
  }
}

/** A string body as it is, a binary one with each byte as one character. */
function latin1(body: Body): string {
  return typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1');
}

function safeUrl(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}
