/**
 * What counts as a credential, in one place. The redactor (recording, replay matching,
 * `cassette-proxy redact`) and the leak finder (`cassette-proxy scan`) read only these
 * definitions, so what scan flags, redact fixes: secret header names, query parameters and body
 * field names; the literal credentials inside a header value; and the shapes of keys and tokens
 * that are masked wherever they appear. The header and parameter names are the ones below plus
 * those each provider profile declares (providers/registry.ts).
 */
import { PROFILES } from '../providers/registry.js';

import { REDACTED, isRedacted, type Mark } from './marker.js';

/**
 * Literal credentials shorter than this occur by chance too often to be masked everywhere; so do
 * the values of --redact-body-field fields that a response echoes.
 */
export const MIN_SECRET_LENGTH = 8;

/** HTTP's own credential headers, and those of gateways and of APIs that have no profile yet (Azure's `api-key`, Anthropic's `x-api-key`, Gemini's `x-goog-api-key` are their profiles'). */
const GENERAL_SECRET_HEADERS = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-portkey-api-key',
  'x-portkey-virtual-key',
  'helicone-auth',
  'cf-aig-authorization', // Cloudflare AI Gateway
  'ocp-apim-subscription-key', // Azure API Management
  'x-amz-security-token', // AWS temporary credentials (Bedrock)
  'x-auth-token',
];

export const BUILTIN_SECRET_HEADERS: readonly string[] = [...new Set([...GENERAL_SECRET_HEADERS, ...PROFILES.flatMap((p) => p.credentialHeaders)])];

const GENERAL_SECRET_PARAMS = ['api-key', 'api_key', 'apikey', 'access_token', 'token', 'x-amz-signature', 'x-amz-credential', 'x-amz-security-token', 'sig'];

export const SECRET_QUERY_PARAMS: readonly string[] = [...new Set([...GENERAL_SECRET_PARAMS, ...PROFILES.flatMap((p) => p.credentialParams)])];

/**
 * Body fields (JSON keys, multipart and urlencoded form fields) that hold credentials. A bare
 * `token` is left out on purpose: OpenAI answers use it for text (`logprobs.content[].token`).
 */
const SECRET_FIELD = /^(?:api[-_]?key|access[-_]?token|refresh[-_]?token|id[-_]?token|auth[-_]?token|bearer[-_]?token|client[-_]?secret|private[-_]?key|secret|password|passwd|authorization)$/i;

export function isSecretField(name: string): boolean {
  return SECRET_FIELD.test(name);
}

/** A word every secret field name holds (global: the key scan walks its matches). */
const SECRET_FIELD_WORD = /key|token|secret|passw|authorization/gi;
/** A letter, `-` or `_` written as a `\u` escape, which no serialiser does unasked: a key could spell a secret name so. */
const ESCAPED_NAME_CHARACTER = /\\u00(?:[46][1-9a-f]|[57][0-9a]|2d|5f)/i;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

/** The index of the first character at or after `from` that is not JSON whitespace. */
function afterSpace(text: string, from: number): number {
  let at = from;
  for (let c = text.charCodeAt(at); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = text.charCodeAt(++at));
  return at;
}

/**
 * Whether JSON text holds a secret-named key (at any depth), decided from its keys without parsing
 * it: only a body that does needs parsing to be redacted. Outside its strings, valid JSON holds no
 * word a secret name holds; a string whose opening quote no backslash precedes (an escaped quote
 * is inside a prompt) and that a colon follows is a key. Text that is not valid JSON may be
 * answered either way: it cannot be parsed anyway. A key spelled with escaped letters is left to
 * the parser.
 */
export function mayHoldSecretField(text: string): boolean {
  if (ESCAPED_NAME_CHARACTER.test(text)) return true;
  SECRET_FIELD_WORD.lastIndex = 0;
  for (let word = SECRET_FIELD_WORD.exec(text); word; word = SECRET_FIELD_WORD.exec(text)) {
    const start = text.lastIndexOf('"', word.index);
    const end = text.indexOf('"', word.index + word[0].length);
    if (start === -1 || end === -1) return false;
    const isKey = text.charCodeAt(start - 1) !== BACKSLASH && text.charCodeAt(afterSpace(text, end + 1)) === COLON;
    if (isKey && isSecretField(text.slice(start + 1, end))) return true;
    // The rest of this string holds no key.
    SECRET_FIELD_WORD.lastIndex = end + 1;
  }
  return false;
}

const SECRET_PARAMS: ReadonlySet<string> = new Set(SECRET_QUERY_PARAMS);

/** A query parameter or form field (URL, `form`, urlencoded or multipart body) that holds a credential. */
export function isSecretParam(name: string): boolean {
  return SECRET_PARAMS.has(name.toLowerCase()) || isSecretField(name);
}

/** Secret header names: the built-in list plus the --redact-header ones, any casing. */
export function secretHeaderSet(extra: readonly string[] = []): ReadonlySet<string> {
  return new Set([...BUILTIN_SECRET_HEADERS, ...extra.map((h) => h.toLowerCase())]);
}

/**
 * The literal credentials in the value of a secret header, each to be masked wherever it is
 * echoed. Only `Cookie` is split into `name=value` pairs (their values are the secrets). Any other
 * value is a secret whole, except that `<scheme> <credential>` (Bearer, Basic, Token, Key, …) gives
 * the credential on its own (which every echo of the whole value holds). A scheme with parameters
 * (AWS SigV4: `Credential=…, SignedHeaders=…, Signature=…`) gives its signature and access key id,
 * never a name list such as SignedHeaders.
 */
export function headerSecrets(name: string, value: string): string[] {
  if (isRedacted(value)) return [];
  const lower = name.toLowerCase();
  if (lower === 'cookie' || lower === 'set-cookie') {
    // A Set-Cookie's attributes (Path, Expires, …) follow its first pair and are not secret.
    const pairs = lower === 'cookie' ? value.split(';') : [value.split(';')[0]!];
    return [value, ...pairs.map((pair) => pair.slice(pair.indexOf('=') + 1).trim())];
  }
  const out = [value];
  const rest = withScheme(value)?.[1];
  if (rest === undefined) return out;
  // Every form of `Bearer <credential>` holds the credential's, so masking that alone gives an echo
  // of the whole value the marker the header got (`Bearer [REDACTED:…]`). A short one goes whole.
  if (TOKEN68.test(rest)) return rest.length >= MIN_SECRET_LENGTH ? [rest] : [...out, rest];
  if (!/^[A-Za-z0-9_-]+\s*=/.test(rest)) return [...out, rest];
  for (const [, param, raw] of rest.matchAll(/([A-Za-z0-9_-]+)\s*=\s*("[^"]*"|[^,\s]*)/g)) {
    const paramValue = raw!.replace(/^"|"$/g, '');
    const lowerParam = param!.toLowerCase();
    if (lowerParam === 'credential') out.push(paramValue.split('/')[0]!);
    else if (lowerParam === 'signature' || lowerParam === 'response' || isSecretParam(lowerParam)) out.push(paramValue);
  }
  return out;
}

/** `<scheme> <rest>` (Bearer, Basic, AWS4-HMAC-SHA256, …) split in two, or undefined for a value without a scheme. */
export function withScheme(value: string): [scheme: string, rest: string] | undefined {
  const match = /^\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s+(.+?)\s*$/.exec(value);
  return match ? [match[1]!, match[2]!] : undefined;
}

/** A credential on its own after a scheme (RFC 7235's token68), as `Bearer sk-…` holds one. */
export function isToken68(text: string): boolean {
  return TOKEN68.test(text);
}

/** How a secret may appear in text, and the secret it stands for (whose marker replaces it). */
export type Literal = [form: string, secret: string];

/**
 * The literal secrets worth masking wherever they are echoed, longest first: each long enough,
 * as sent, percent-encoded (an echo in a URL or a form body) and escaped in a JSON string (an
 * echo in a JSON or SSE body).
 */
export function secretLiterals(found: Iterable<string>): Literal[] {
  const out = new Map<string, string>();
  const add = (form: string, secret: string): void => void (out.has(form) || out.set(form, secret));
  for (const secret of found) {
    if (secret.length < MIN_SECRET_LENGTH || isRedacted(secret)) continue;
    add(secret, secret);
    const encoded = uriEncoded(secret);
    if (encoded !== undefined && encoded !== secret) {
      add(encoded, secret);
      // The form encoding: spaces as +, and a few more marks escaped.
      add(encoded.replaceAll('%20', '+').replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`), secret);
    }
    const json = JSON.stringify(secret).slice(1, -1);
    add(json, secret);
    if (json.includes('/')) add(json.replaceAll('/', '\\/'), secret); // some servers escape slashes too
  }
  return [...out].sort((a, b) => b[0].length - a[0].length);
}

/** The percent-encoded form of text; none for text with a lone UTF-16 surrogate, which has no UTF-8 form to encode. */
function uriEncoded(text: string): string | undefined {
  try {
    return encodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/**
 * The text with every literal replaced, in one pass (a marker put in is never looked into again),
 * by the marker of the secret it stands for. `literals` come longest first, so the longest wins.
 */
export function replaceLiterals(text: string, literals: readonly Literal[], mark: Mark): string {
  const present = literals.filter(([form]) => text.includes(form));
  if (present.length === 0) return text;
  const secretOf = new Map(present);
  const pattern = new RegExp(present.map(([form]) => form.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  return text.replace(pattern, (form) => mark(secretOf.get(form)));
}

/** RFC 7235's token68: the credential after a scheme such as Bearer or Basic. */
const TOKEN68 = /^[A-Za-z0-9._~+/-]+=*$/;

/**
 * Where a key may start: not inside a word, but right after a JSON escape (`\n`, `\u0022`) or a
 * percent-encoded byte (`%20`), whose last character is a letter or digit.
 */
const START = String.raw`(?:(?<![A-Za-z0-9])|(?<=\\[nrtbf])|(?<=\\u[0-9A-Fa-f]{4})|(?<=%[0-9A-Fa-f]{2}))`;

export interface SecretShape {
  /** What it looks like, for a report. */
  what: string;
  pattern: RegExp;
  /** True when group 1 is a scheme name (`Bearer `), which is kept. */
  scheme?: true;
}

/** Credentials recognised by their shape alone, masked anywhere in an interaction even if the client never sent them. */
export const SECRET_SHAPES: readonly SecretShape[] = [
  { what: 'an OpenAI key (sk-…)', pattern: new RegExp(`${START}sk-[A-Za-z0-9_-]{16,}`, 'g') },
  { what: 'an OpenAI ephemeral key (ek_…)', pattern: new RegExp(`${START}ek_[A-Za-z0-9_-]{16,}`, 'g') },
  { what: 'a Google API key (AIza…)', pattern: new RegExp(`${START}AIza[A-Za-z0-9_-]{35}`, 'g') },
  { what: 'an AWS access key id (AKIA…)', pattern: new RegExp(`${START}A[KS]IA[A-Z0-9]{16}(?![A-Za-z0-9])`, 'g') },
  {
    what: 'a bearer token',
    pattern: new RegExp(`${START}((?:[Bb]earer|BEARER)[ \\t]+)[A-Za-z0-9._~+/-]{16,}=*`, 'g'),
    scheme: true,
  },
  {
    // Prose says "Key points" or "Basic usage": these schemes need a digit in the value, or base64 padding.
    what: 'a credential after an authorization scheme (Basic, Token, Key, ApiKey)',
    pattern: new RegExp(`${START}((?:Basic|Token|Key|ApiKey)[ \\t]+)(?=[A-Za-z0-9._~+/-]*[0-9]|[A-Za-z0-9._~+/-]{16,}=)[A-Za-z0-9._~+/-]{16,}=*`, 'g'),
    scheme: true,
  },
];

/** Text without any of these needs no shape matching: one cheap test on the hot path. */
const SHAPE_HINT = /sk-|ek_|AIza|A[KS]IA|earer|EARER|Basic|Token|Key/;

/** The text with every credential shape masked: by its marker, or (a log line) by the bare one. */
export function maskShapes(text: string, mark: Mark = () => REDACTED): string {
  if (!SHAPE_HINT.test(text)) return text;
  let out = text;
  for (const shape of SECRET_SHAPES) {
    out = out.replace(shape.pattern, (found: string, scheme: unknown) => (shape.scheme ? `${scheme as string}${mark(found.slice((scheme as string).length))}` : mark(found)));
  }
  return out;
}

/**
 * A request target as a log line may show it: the path without its query, key shapes masked.
 * Queries and paths may carry credentials, an absolute-form target userinfo; logs never do.
 */
export function pathForLog(url: string | undefined): string {
  const target = url ?? '/';
  if (!target.startsWith('/')) return URL.canParse(target) ? maskShapes(new URL(target).pathname) : '(not a path)';
  const end = target.indexOf('?');
  return maskShapes(end === -1 ? target : target.slice(0, end));
}

/**
 * Why a cassette name cannot be used when it holds a credential's shape (a key sent in the wrong
 * header or flag), without repeating it: a name shows in a file name, logs and errors.
 */
export function credentialInName(name: string): string | undefined {
  const shape = shapesIn(name)[0];
  return shape && `invalid cassette name: it holds what looks like ${shape}; name cassettes after what they record`;
}

/** What each credential shape found in the text looks like. */
export function shapesIn(text: string): string[] {
  if (!SHAPE_HINT.test(text)) return [];
  return SECRET_SHAPES.filter((shape) => {
    shape.pattern.lastIndex = 0;
    return shape.pattern.test(text);
  }).map((shape) => shape.what);
}

/**
 * True when a secret field's JSON value still holds something: a non-empty string other than the
 * marker, a number, or an array or object with such a leaf (redacted whole).
 */
export function holdsSecret(value: unknown): boolean {
  if (typeof value === 'string') return value !== '' && !isRedacted(value);
  if (typeof value === 'number') return true;
  if (value === null || typeof value !== 'object') return false;
  return Object.values(value).some(holdsSecret);
}

/** The literal credentials in a secret field's JSON value: the value itself, or every string leaf of an array or object. */
export function fieldSecrets(value: unknown): string[] {
  if (typeof value === 'number') return [String(value)];
  const out: string[] = [];
  stringLeaves(value, out);
  return out;
}

function stringLeaves(value: unknown, out: string[]): void {
  if (typeof value === 'string') out.push(value);
  else if (value !== null && typeof value === 'object') for (const child of Object.values(value)) stringLeaves(child, out);
}

/**
 * A header the built-in rules do not know whose name and value look like a credential (for
 * example `X-Team-Key: 3f9a…`): scan then names the --redact-header flag that would redact it.
 */
export function looksLikeCustomSecretHeader(name: string, value: string): boolean {
  if (!CUSTOM_SECRET_NAME.test(name) || NOT_SECRET_HEADER.test(name)) return false;
  return CREDENTIAL_VALUE.test(value) && /[0-9]/.test(value) && !TIMESTAMP.test(value);
}

const CUSTOM_SECRET_NAME = /key|token|secret|passw|auth|credential|signature/i;
/** Headers with such names that hold no credential: rate limits (`anthropic-ratelimit-tokens-reset`), request ids, WebSocket handshakes. */
const NOT_SECRET_HEADER = /ratelimit|^idempotency-key$|^sec-websocket-/i;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T/;
/** One token, optionally after a scheme word: no prose, no lists. */
const CREDENTIAL_VALUE = /^(?:[A-Za-z][A-Za-z0-9-]*[ \t]+)?[A-Za-z0-9._~+/:-]{16,}=*$/;

/** Calls `visit(key, value, parent)` for every key of every object inside a JSON value. */
export function eachJsonField(value: unknown, visit: (key: string, value: unknown, parent: Record<string, unknown>) => void): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const item of value) eachJsonField(item, visit);
    return;
  }
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    visit(key, child, value as Record<string, unknown>);
    eachJsonField(child, visit);
  }
}

/** The boundary of a multipart/form-data body, from its Content-Type. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/form-data/i.test(contentType)) return undefined;
  return /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
}

/** A part's field name: `name="api_key"`, `name='api_key'` or `name=api_key` (clients differ). */
const PART_NAME = /content-disposition:[^\r\n]*?[;\s]name\s*=\s*(?:"([^"]*)"|'([^']*)'|([^;\s]+))/i;

/** Each field of a multipart body as [name, value start, value end] offsets in its latin1 view. */
export function multipartFields(latin1: string, boundary: string): [string, number, number][] {
  const out: [string, number, number][] = [];
  const delimiter = `--${boundary}`;
  let at = latin1.indexOf(delimiter);
  while (at !== -1) {
    const headersStart = at + delimiter.length + 2; // past the CRLF after the delimiter
    const headersEnd = latin1.indexOf('\r\n\r\n', headersStart);
    if (headersEnd === -1) break;
    const next = latin1.indexOf(`\r\n${delimiter}`, headersEnd);
    if (next === -1) break;
    const match = PART_NAME.exec(latin1.slice(headersStart, headersEnd));
    if (match) out.push([match[1] ?? match[2] ?? match[3]!, headersEnd + 4, next]);
    at = next + 2;
  }
  return out;
}
