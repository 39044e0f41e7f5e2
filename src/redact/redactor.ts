/**
 * Redaction: a copy of an interaction with every credential replaced by a marker, made before
 * anything touches disk. Layers, each catching what the one before might miss:
 *  1. secret headers (built-in list plus --redact-header) keep their name and lose their value;
 *  2. secret query parameters (`api-key`, `key`, `access_token`, …) and secret body fields
 *     (JSON keys, multipart and urlencoded fields such as `api_key`, `password`) lose their
 *     value, a JSON array or object whole;
 *  3. --redact-body-field paths (personal data in prompts) lose their value;
 *  4. every literal secret found in those places (secrets.ts says which parts of a header value),
 *     and anything shaped like a key or token (secrets.ts's SECRET_SHAPES), is masked wherever
 *     else it appears: URL, headers, form, request and response bodies, the response status line.
 * The upstream still gets the real request: only the copy for the cassette is changed.
 */
import type { Body, FormMap, HeaderMap, NewInteraction, WebSocketFrame } from '../cassette/types.js';
import { headerValue } from '../http/headers.js';
import { JsonTooDeep, MAX_JSON_DEPTH, parseJsonBody, replacePaths, type JsonPath } from '../json-path.js';
import {
  REDACTED,
  SECRET_FIELD_HINT,
  eachJsonField,
  fieldSecrets,
  headerSecrets,
  holdsSecret,
  isSecretField,
  isSecretParam,
  maskShapes,
  multipartBoundary,
  multipartFields,
  secretHeaderSet,
  secretLiterals,
} from './secrets.js';

export { REDACTED } from './secrets.js';

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
  /** JSON body fields whose values are replaced by the marker (--redact-body-field). */
  bodyFields?: readonly JsonPath[];
}

export class Redactor {
  private readonly secretHeaders: ReadonlySet<string>;
  private readonly bodyFields: readonly JsonPath[];

  constructor(options: RedactorOptions = {}) {
    this.secretHeaders = secretHeaderSet(options.headers);
    this.bodyFields = options.bodyFields ?? [];
  }

  private isSecretHeader(name: string): boolean {
    return this.secretHeaders.has(name.toLowerCase());
  }

  /**
   * Redacts a parsed JSON request body in place; returns the literal secrets it removed. Replay
   * applies the same to incoming requests, so a redacted cassette still matches them.
   */
  private redactRequestJson(value: unknown): string[] {
    const removed: string[] = [];
    eachJsonField(value, (key, child, parent) => {
      if (!isSecretField(key) || !holdsSecret(child)) return;
      removed.push(...fieldSecrets(child));
      parent[key] = REDACTED;
    });
    replacePaths(value, this.bodyFields, REDACTED);
    return removed;
  }

  /** The redacted copy of an interaction; the input is not changed. */
  redact(interaction: NewInteraction): NewInteraction {
    const { response } = interaction;
    const { request, secrets } = this.redactRequestWithSecrets(interaction.request, true);
    const mask = (text: string): string => maskText(text, secrets);
    const responseBody = this.bodyFields.length === 0 ? response.body : this.redactJsonBody(response.body, (value) => replacePaths(value, this.bodyFields, REDACTED), true);
    const extension = interaction.cassette_proxy;
    const websocket = extension?.websocket && { ...extension.websocket, frames: extension.websocket.frames.map((frame) => this.redactFrame(frame, secrets)) };
    return {
      ...interaction,
      ...(websocket && { cassette_proxy: { ...extension, websocket } }),
      request,
      response: {
        ...response,
        status: mask(response.status),
        headers: this.redactHeaders(response.headers, mask),
        body: maskBody(responseBody, secrets),
      },
    };
  }

  /**
   * A WebSocket frame as it is saved: a client's text as a request body would be (secret fields,
   * --redact-body-field), every frame with the session's own credentials and key shapes masked.
   * Replay prepares a client's frames as request bodies (redactRequest), so they match.
   */
  private redactFrame(frame: WebSocketFrame, secrets: readonly string[]): WebSocketFrame {
    const out = { ...frame };
    if (out.text !== undefined) {
      const text = frame.from === 'client' ? (this.redactJsonBody(out.text, (value) => void this.redactRequestJson(value), true) as string) : out.text;
      out.text = maskText(text, secrets);
    }
    if (out.binary !== undefined) out.binary = maskBody(out.binary, secrets) as Uint8Array;
    if (out.close_reason) out.close_reason = maskText(out.close_reason, secrets);
    return out;
  }

  /**
   * A request as it would be recorded. Replay matches incoming requests in this form, so a
   * redacted cassette matches the requests that made it.
   */
  redactRequest<R extends RequestParts>(request: R): R {
    return this.redactRequestWithSecrets(request).request;
  }

  /** `recording`: a body too deep to look into is refused (it would be saved); matching only compares it as bytes. */
  private redactRequestWithSecrets<R extends RequestParts>(request: R, recording = false): { request: R; secrets: string[] } {
    const found = new Set<string>();
    const original = request.body ?? '';
    const redactedBody = this.redactRequestBody(original, headerValue(request.headers, 'content-type'), found, recording);
    this.collectSecrets(request.headers ?? {}, request.form ?? {}, request.url, found);
    const secrets = secretLiterals(found);
    const mask = (text: string): string => maskText(text, secrets);
    const body = maskBody(redactedBody, secrets);
    const out: R = { ...request, url: mask(this.redactQuery(request.url)), headers: this.redactHeaders(request.headers ?? {}, mask), body };
    if (request.form) out.form = this.redactForm(request.form, mask);
    if (request.content_length !== undefined && body !== original) out.content_length = Buffer.byteLength(body as string | Uint8Array);
    return { request: out, secrets };
  }

  private redactRequestBody(body: Body, contentType: string | undefined, found: Set<string>, recording: boolean): Body {
    const boundary = multipartBoundary(contentType);
    if (boundary) return this.redactMultipart(body, boundary, found);
    if (typeof body === 'string' && contentType?.toLowerCase().startsWith('application/x-www-form-urlencoded')) return this.redactUrlencoded(body, found);
    // Parsing every body is the costliest step; most hold no field worth looking for.
    if (this.bodyFields.length === 0 && (typeof body !== 'string' || !SECRET_FIELD_HINT.test(body))) return body;
    return this.redactJsonBody(
      body,
      (value) => {
        for (const secret of this.redactRequestJson(value)) found.add(secret);
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
    const form = new URLSearchParams(body);
    let changed = false;
    for (const [name, value] of [...form]) {
      if (!isSecretParam(name) || value === REDACTED) continue;
      found.add(value);
      form.set(name, REDACTED);
      changed = true;
    }
    return changed ? form.toString() : body;
  }

  private redactMultipart(body: Body, boundary: string, found: Set<string>): Body {
    const view = latin1(body);
    let out = '';
    let last = 0;
    for (const [name, start, end] of multipartFields(view, boundary)) {
      if (!isSecretParam(name)) continue;
      found.add(Buffer.from(view.slice(start, end), 'latin1').toString('utf8'));
      out += view.slice(last, start) + REDACTED;
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
      out[name] = this.isSecretHeader(name) ? values.map(() => REDACTED) : values.map(mask);
    }
    return out;
  }

  private redactForm(form: FormMap, mask: (text: string) => string): FormMap {
    const out: FormMap = {};
    for (const [name, values] of Object.entries(form)) {
      out[name] = isSecretParam(name) ? values.map(() => REDACTED) : values.map(mask);
    }
    return out;
  }

  private redactQuery(url: string): string {
    if (!url.includes('?')) return url;
    const parsed = safeUrl(url);
    if (!parsed || !parsed.search) return url;
    let changed = false;
    for (const name of new Set(parsed.searchParams.keys())) {
      if (isSecretParam(name)) {
        const count = parsed.searchParams.getAll(name).length;
        parsed.searchParams.delete(name);
        for (let i = 0; i < count; i++) parsed.searchParams.append(name, REDACTED);
        changed = true;
      }
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

/** Masks the client's literal secrets and anything shaped like a key or token. */
function maskText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return maskShapes(out);
}

/** Binary bodies are masked byte-wise: a latin1 view maps each byte to one character and back. */
function maskBody(body: Body, secrets: readonly string[]): Body {
  if (typeof body === 'string') return maskText(body, secrets);
  const view = latin1(body);
  const masked = maskText(
    view,
    secrets.map((s) => Buffer.from(s, 'utf8').toString('latin1')),
  );
  return masked === view ? body : Buffer.from(masked, 'latin1');
}
