/**
 * Redaction: a copy of an interaction with every credential replaced by a marker, made before
 * anything touches disk. The marker is a keyed digest of what it replaces (marker.ts), so a
 * redacted value the user matches on still decides matching without being kept (redactRequest
 * gives the form requests are matched in). Layers, each catching what the one before might miss:
 *  1. secret headers and response trailers (built-in list plus --redact-header) keep their name
 *     (and a scheme such as `Bearer`) and lose their value;
 *  2. secret query parameters (`api-key`, `key`, `access_token`, …) and secret body fields
 *     (JSON keys, multipart and urlencoded fields such as `api_key`, `password`) lose their
 *     value, a JSON array or object whole;
 *  3. --redact-body-field paths (personal data in prompts) lose their value, and a response that
 *     quotes one (as sent, or spelled across the events of a stream: echoes.ts) loses the quote;
 *  4. every literal secret found in those places (secrets.ts says which parts of a header value),
 *     and anything shaped like a key or token (secrets.ts's SECRET_SHAPES), is masked wherever
 *     else it appears: URL, headers, form, request and response bodies, the response status line
 *     and trailers.
 * The upstream and the client still get the real exchange: only the copy for the cassette is changed.
 */
import type { Body, CassetteResponse, FormMap, HeaderMap, NewInteraction, WebSocketFrame } from '../cassette/types.js';
import { headerValue } from '../http/headers.js';
import { JsonTooDeep, MAX_JSON_DEPTH, parseJsonBody, replacePaths, type JsonPath } from '../json-path.js';
import { isEventStream } from '../sse.js';
import { maskSplitEchoes } from './echoes.js';
import { anyCredential, digestMarker, isRedacted, type Mark } from './marker.js';
import {
  MIN_SECRET_LENGTH,
  eachJsonField,
  fieldSecrets,
  headerSecrets,
  holdsSecret,
  isSecretField,
  isSecretParam,
  isToken68,
  maskShapes,
  mayHoldSecretField,
  multipartBoundary,
  multipartFields,
  replaceLiterals,
  secretHeaderSet,
  secretLiterals,
  withScheme,
  type Literal,
} from './secrets.js';

/** The parts of a request that redaction looks at (a recorded request, or an incoming one in replay). */
export interface RequestParts {
  url: string;
  headers?: HeaderMap;
  form?: FormMap;
  body?: Body;
  content_length?: number;
}

export interface RedactorOptions {
  /** Header names redacted on top of the built-in list. */
  headers?: readonly string[];
  /** JSON body fields whose values are replaced by their marker (--redact-body-field). */
  bodyFields?: readonly JsonPath[];
  /** The key of the markers' digests (--redact-key); without it, the public DEFAULT_REDACT_KEY. */
  key?: string;
}

export class Redactor {
  private readonly secretHeaders: ReadonlySet<string>;
  private readonly bodyFields: readonly JsonPath[];
  private readonly mark: Mark;

  constructor(options: RedactorOptions = {}) {
    this.secretHeaders = secretHeaderSet(options.headers);
    this.bodyFields = options.bodyFields ?? [];
    this.mark = digestMarker(options.key);
  }

  private isSecretHeader(name: string): boolean {
    return this.secretHeaders.has(name.toLowerCase());
  }

  /** The marker of a value, or the value itself when it is a marker already (a recording redacted again for matching). */
  private readonly markValue = (value: unknown): string => (typeof value === 'string' && isRedacted(value) ? value : this.mark(value));

  /**
   * A secret header's value as recorded: `<scheme> <credential>` keeps its scheme, so that the
   * credential's marker is the one its echoes get; any other value becomes one marker.
   */
  private markHeader(value: string): string {
    if (isRedacted(value)) return value;
    const parts = withScheme(value);
    return parts && isToken68(parts[1]) ? `${parts[0]} ${this.mark(parts[1])}` : this.mark(value);
  }

  /**
   * Redacts a parsed JSON request body in place; returns the literal secrets it removed, and notes
   * in `fields` the --redact-body-field values (which a response may quote) and their markers.
   * Replay applies the same to incoming requests, so a redacted cassette still matches them.
   */
  private redactRequestJson(value: unknown, fields: BodyFieldValues): string[] {
    const removed: string[] = [];
    eachJsonField(value, (key, child, parent) => {
      if (!isSecretField(key) || !holdsSecret(child)) return;
      removed.push(...fieldSecrets(child));
      parent[key] = this.mark(child);
    });
    replacePaths(value, this.bodyFields, (old) => {
      // A marker (a recording redacted again) is no value an answer could quote.
      for (const text of fieldSecrets(old)) if (!isRedacted(text)) fields.texts.add(text);
      const marker = this.markValue(old);
      fields.markers.add(marker);
      return marker;
    });
    return removed;
  }

  /** The redacted copy of an interaction; the input is not changed. */
  redact(interaction: NewInteraction): NewInteraction {
    const { response } = interaction;
    const fields = bodyFieldValues();
    const { request, secrets } = this.redactRequestWithSecrets(interaction.request, fields, true);
    const mask = (text: string): string => maskText(text, secrets, this.mark);
    const body = this.redactResponseBody(response, secrets, fields.texts);
    const extension = interaction.cassette_proxy;
    const websocket = extension?.websocket && { ...extension.websocket, frames: extension.websocket.frames.map((frame) => this.redactFrame(frame, secrets, fields)) };
    return {
      ...interaction,
      ...(websocket && { cassette_proxy: { ...extension, websocket } }),
      request,
      response: {
        ...response,
        status: mask(response.status),
        ...withLength(response, body, this.redactHeaders(response.headers, mask)),
        ...(response.trailer && { trailer: this.redactHeaders(response.trailer, mask) }),
      },
    };
  }

  /**
   * A response body as saved: --redact-body-field paths in a JSON body get their marker; the
   * request's secrets, and the values of its --redact-body-field fields that the body quotes, are
   * masked (in a stream, also where its events spell one in pieces).
   */
  private redactResponseBody(response: CassetteResponse, secrets: readonly Literal[], quoted: ReadonlySet<string>): Body {
    const stream = isEventStream(headerValue(response.headers, 'content-type'));
    let body = this.bodyFields.length === 0 ? response.body : this.redactJsonBody(response.body, (value) => void replacePaths(value, this.bodyFields, this.markValue), true);
    // In a stream, a form with a line break could end an event: those are left to maskSplitEchoes.
    const echoes = secretLiterals(quoted).filter(([form]) => !stream || !/[\r\n]/.test(form));
    body = maskBody(body, echoes.length === 0 ? secrets : [...secrets, ...echoes].sort((a, b) => b[0].length - a[0].length), this.mark);
    if (stream && quoted.size > 0 && typeof body === 'string') {
      body = maskSplitEchoes(body, [...quoted].filter((text) => text.length >= MIN_SECRET_LENGTH), this.mark);
    }
    return body;
  }

  /**
   * A WebSocket frame as it is saved: a client's text as a request body would be (secret fields,
   * --redact-body-field), every frame with the session's own credentials and key shapes masked.
   * Replay prepares a client's frames as request bodies (redactRequest), so they match.
   */
  private redactFrame(frame: WebSocketFrame, secrets: readonly Literal[], fields: BodyFieldValues): WebSocketFrame {
    const out = { ...frame };
    if (out.text !== undefined) {
      const text = frame.from === 'client' ? (this.redactJsonBody(out.text, (value) => void this.redactRequestJson(value, fields), true) as string) : out.text;
      out.text = maskText(text, secrets, this.mark);
    }
    if (out.binary !== undefined) out.binary = maskBody(out.binary, secrets, this.mark) as Uint8Array;
    if (out.close_reason) out.close_reason = maskText(out.close_reason, secrets, this.mark);
    return out;
  }

  /**
   * A request in the form replay matches it, incoming and recorded alike (so a redacted cassette
   * matches the requests that made it): as recorded, except that only what the user matches on
   * keeps its digest, --redact-body-field values and secret headers (which take part only when
   * named with --match-header). A credential the built-in rules find anywhere else (query, form,
   * a secret body field, a key inside a prompt) becomes ANY_CREDENTIAL and matches any other:
   * a suite recorded with a real key replays with a placeholder one.
   */
  redactRequest<R extends RequestParts>(request: R): R {
    const fields = bodyFieldValues();
    const { request: out } = this.redactRequestWithSecrets(request, fields);
    const any = (text: string): string => anyCredential(text, fields.markers);
    const headers: HeaderMap = {};
    for (const [name, values] of Object.entries(out.headers ?? {})) headers[name] = this.isSecretHeader(name) ? values : values.map(any);
    const body = out.body ?? '';
    const matched: R = { ...out, url: any(out.url), headers, body: typeof body === 'string' ? any(body) : mapLatin1(body, any) };
    if (out.form) matched.form = Object.fromEntries(Object.entries(out.form).map(([name, values]) => [name, values.map(any)]));
    return matched;
  }

  /** `recording`: a body too deep to look into is refused (it would be saved); matching only compares it as bytes. */
  private redactRequestWithSecrets<R extends RequestParts>(request: R, fields: BodyFieldValues, recording = false): { request: R; secrets: Literal[] } {
    const found = new Set<string>();
    const original = request.body ?? '';
    const redactedBody = this.redactRequestBody(original, headerValue(request.headers, 'content-type'), found, fields, recording);
    this.collectSecrets(request.headers ?? {}, request.form ?? {}, request.url, found);
    const secrets = secretLiterals(found);
    const mask = (text: string): string => maskText(text, secrets, this.mark);
    const body = maskBody(redactedBody, secrets, this.mark);
    const out: R = { ...request, url: mask(this.redactQuery(request.url)), headers: this.redactHeaders(request.headers ?? {}, mask), body };
    if (request.form) out.form = this.redactForm(request.form, mask);
    if (request.content_length !== undefined && body !== original) out.content_length = Buffer.byteLength(body as string | Uint8Array);
    return { request: out, secrets };
  }

  private redactRequestBody(body: Body, contentType: string | undefined, found: Set<string>, fields: BodyFieldValues, recording: boolean): Body {
    const boundary = multipartBoundary(contentType);
    if (boundary) return this.redactMultipart(body, boundary, found);
    if (typeof body === 'string' && contentType?.toLowerCase().startsWith('application/x-www-form-urlencoded')) return this.redactUrlencoded(body, found);
    // Parsing is the costliest step: a body whose keys name no secret, with no field to redact, is left to matching to parse.
    if (this.bodyFields.length === 0 && (typeof body !== 'string' || !mayHoldSecretField(body))) return body;
    return this.redactJsonBody(
      body,
      (value) => {
        for (const secret of this.redactRequestJson(value, fields)) found.add(secret);
      },
      recording,
    );
  }

  /**
   * Applies `redact` to a JSON body; other bodies pass unchanged. A body nested too deep to walk
   * (json-path.ts) passes unchanged too, unless `recording`: then it throws, and the exchange is
   * not saved, since a field it holds could not be redacted.
   */
  private redactJsonBody(body: Body, redact: (value: unknown) => void, recording = false): Body {
    if (typeof body !== 'string' || !/^\s*[{[]/.test(body)) return body;
    let value: unknown;
    try {
      value = parseJsonBody(body);
    } catch (err) {
      if (recording && err instanceof JsonTooDeep) {
        throw new Error(`a JSON body nests deeper than ${MAX_JSON_DEPTH} levels, so its fields cannot be checked for credentials`, { cause: err });
      }
      return body;
    }
    const before = JSON.stringify(value);
    redact(value);
    const after = JSON.stringify(value);
    return after === before ? body : after;
  }

  /** An urlencoded form body, field by field (values are percent-encoded there, so literal masking alone would miss them). */
  private redactUrlencoded(body: string, found: Set<string>): string {
    const out = new URLSearchParams();
    let changed = false;
    for (const [name, value] of new URLSearchParams(body)) {
      if (!isSecretParam(name) || isRedacted(value)) {
        out.append(name, value);
        continue;
      }
      found.add(value);
      out.append(name, this.mark(value));
      changed = true;
    }
    return changed ? out.toString() : body;
  }

  private redactMultipart(body: Body, boundary: string, found: Set<string>): Body {
    const view = latin1(body);
    let out = '';
    let last = 0;
    for (const [name, start, end] of multipartFields(view, boundary)) {
      if (!isSecretParam(name)) continue;
      const value = Buffer.from(view.slice(start, end), 'latin1').toString('utf8');
      if (isRedacted(value)) continue;
      found.add(value);
      out += view.slice(last, start) + this.mark(value);
      last = end;
    }
    if (last === 0) return body;
    const bytes = Buffer.from(out + view.slice(last), 'latin1');
    return typeof body === 'string' ? bytes.toString('utf8') : bytes;
  }

  /** Literal credentials the client sent in headers, the query and the form. */
  private collectSecrets(headers: HeaderMap, form: FormMap, url: string, found: Set<string>): void {
    for (const [name, values] of Object.entries(headers)) {
      if (!this.isSecretHeader(name)) continue;
      for (const value of values) for (const secret of headerSecrets(name, value)) found.add(secret);
    }
    for (const [name, values] of Object.entries(form)) {
      if (isSecretParam(name)) values.forEach((v) => found.add(v));
    }
    if (url.includes('?')) {
      safeUrl(url)?.searchParams.forEach((value, name) => {
        if (isSecretParam(name)) found.add(value);
      });
    }
  }

  private redactHeaders(headers: HeaderMap, mask: (text: string) => string): HeaderMap {
    const out: HeaderMap = {};
    for (const [name, values] of Object.entries(headers)) {
      out[name] = this.isSecretHeader(name) ? values.map((value) => this.markHeader(value)) : values.map(mask);
    }
    return out;
  }

  private redactForm(form: FormMap, mask: (text: string) => string): FormMap {
    const out: FormMap = {};
    for (const [name, values] of Object.entries(form)) {
      out[name] = isSecretParam(name) ? values.map(this.markValue) : values.map(mask);
    }
    return out;
  }

  private redactQuery(url: string): string {
    if (!url.includes('?')) return url;
    const parsed = safeUrl(url);
    if (!parsed || !parsed.search) return url;
    let changed = false;
    for (const name of new Set(parsed.searchParams.keys())) {
      if (!isSecretParam(name)) continue;
      const values = parsed.searchParams.getAll(name);
      const marked = values.map(this.markValue);
      if (marked.every((value, i) => value === values[i])) continue;
      parsed.searchParams.delete(name);
      for (const value of marked) parsed.searchParams.append(name, value);
      changed = true;
    }
    return changed ? parsed.toString() : url;
  }
}

function safeUrl(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

function latin1(body: Body): string {
  return typeof body === 'string' ? Buffer.from(body, 'utf8').toString('latin1') : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1');
}

/** Masks the client's literal secrets and anything shaped like a key or token, each by its marker. */
function maskText(text: string, literals: readonly Literal[], mark: Mark): string {
  return maskShapes(replaceLiterals(text, literals, mark), mark);
}

/** Binary bodies are masked byte-wise: a latin1 view maps each byte to one character and back. */
function maskBody(body: Body, literals: readonly Literal[], mark: Mark): Body {
  if (typeof body === 'string') return maskText(body, literals, mark);
  const latin1Literals = literals.map(([form, secret]): Literal => [Buffer.from(form, 'utf8').toString('latin1'), secret]);
  return mapLatin1(body, (view) => maskText(view, latin1Literals, mark));
}

/** A binary body through a text function, byte for byte (its latin1 view); the same bytes when nothing changed. */
function mapLatin1(body: Uint8Array, map: (view: string) => string): Body {
  const view = latin1(body);
  const mapped = map(view);
  return mapped === view ? body : Buffer.from(mapped, 'latin1');
}

/** The --redact-body-field values of a request: their strings (which a response may quote) and their markers. */
interface BodyFieldValues {
  texts: Set<string>;
  markers: Set<string>;
}

function bodyFieldValues(): BodyFieldValues {
  return { texts: new Set(), markers: new Set() };
}

/** A response with a body that redaction changed gives its new length, in `content_length` and `Content-Length`, as go-vcr replays them. */
function withLength(response: CassetteResponse, body: Body, headers: HeaderMap): Pick<CassetteResponse, 'body' | 'headers' | 'content_length'> {
  if (body === response.body) return { body, headers, content_length: response.content_length };
  const length = String(Buffer.byteLength(body as string | Uint8Array));
  for (const name of Object.keys(headers)) if (name.toLowerCase() === 'content-length') headers[name] = headers[name]!.map(() => length);
  return { body, headers, content_length: response.content_length >= 0 ? Number(length) : response.content_length };
}
