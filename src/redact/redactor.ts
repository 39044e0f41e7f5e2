/**
 * Redaction: a copy of an interaction with every credential replaced by a marker, made before
 * anything touches disk. Three layers, each catching what the one before might miss:
 *  1. secret headers (built-in list plus --redact-header) keep their name and lose their value;
 *  2. secret query parameters (`api-key`, `key`, `access_token`, …) lose their value;
 *  3. every literal secret the client sent in those places, and anything shaped like an OpenAI key
 *     (`sk-…`), is masked wherever else it appears: URL, headers, form, request and response bodies.
 * The upstream still gets the real credentials: only the copy for the cassette is changed.
 */
import type { Body, FormMap, HeaderMap } from '../cassette/types.js';
import type { NewInteraction } from '../cassette/store.js';

export const REDACTED = '[REDACTED]';

export const BUILTIN_SECRET_HEADERS = [
  'authorization',
  'proxy-authorization',
  'api-key',
  'x-api-key',
  'openai-organization',
  'openai-project',
  'cookie',
  'set-cookie',
] as const;

export const SECRET_QUERY_PARAMS = ['api-key', 'api_key', 'key', 'access_token', 'token'] as const;

/** OpenAI secret keys: `sk-`, `sk-proj-`, `sk-svcacct-`, `sk-admin-` and a long tail. */
const OPENAI_KEY = /(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{16,}/g;
/** Shorter literals are too likely to occur by chance to be worth masking everywhere. */
const MIN_SECRET_LENGTH = 8;

export class Redactor {
  private readonly secretHeaders: ReadonlySet<string>;
  private readonly secretParams: ReadonlySet<string> = new Set(SECRET_QUERY_PARAMS);

  constructor(extraHeaders: readonly string[] = []) {
    this.secretHeaders = new Set([...BUILTIN_SECRET_HEADERS, ...extraHeaders.map((h) => h.toLowerCase())]);
  }

  isSecretHeader(name: string): boolean {
    return this.secretHeaders.has(name.toLowerCase());
  }

  /** The redacted copy of an interaction; the input is not changed. */
  redact(interaction: NewInteraction): NewInteraction {
    const secrets = this.secretsOf(interaction);
    const mask = (text: string): string => maskText(text, secrets);
    const { request, response } = interaction;
    return {
      ...interaction,
      request: {
        ...request,
        url: mask(this.redactQuery(request.url)),
        headers: this.redactHeaders(request.headers ?? {}, mask),
        form: this.redactForm(request.form ?? {}, mask),
        body: maskBody(request.body ?? '', secrets),
      },
      response: {
        ...response,
        headers: this.redactHeaders(response.headers, mask),
        body: maskBody(response.body, secrets),
      },
    };
  }

  /** Literal credentials the client sent, longest first so that a token inside a header value goes too. */
  private secretsOf({ request }: NewInteraction): string[] {
    const found = new Set<string>();
    for (const [name, values] of Object.entries(request.headers ?? {})) {
      if (!this.isSecretHeader(name)) continue;
      for (const value of values) {
        found.add(value);
        const scheme = /^\s*(?:bearer|basic|token)\s+(.+)$/i.exec(value);
        if (scheme) found.add(scheme[1]!.trim());
        // Cookie values: each `name=value` pair's value on its own.
        for (const pair of value.split(';')) found.add(pair.slice(pair.indexOf('=') + 1).trim());
      }
    }
    for (const [name, values] of Object.entries(request.form ?? {})) {
      if (this.secretParams.has(name.toLowerCase())) values.forEach((v) => found.add(v));
    }
    const query = safeUrl(request.url)?.searchParams;
    query?.forEach((value, name) => {
      if (this.secretParams.has(name.toLowerCase())) found.add(value);
    });
    return [...found].filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
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
      out[name] = this.secretParams.has(name.toLowerCase()) ? values.map(() => REDACTED) : values.map(mask);
    }
    return out;
  }

  private redactQuery(url: string): string {
    const parsed = safeUrl(url);
    if (!parsed || !parsed.search) return url;
    let changed = false;
    for (const name of new Set(parsed.searchParams.keys())) {
      if (this.secretParams.has(name.toLowerCase())) {
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

/** Masks the client's literal secrets and anything shaped like an OpenAI key. */
export function maskText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out.replace(OPENAI_KEY, REDACTED);
}

/** Binary bodies are masked byte-wise: a latin1 view maps each byte to one character and back. */
function maskBody(body: Body, secrets: readonly string[]): Body {
  if (typeof body === 'string') return maskText(body, secrets);
  const view = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1');
  const asBytes = secrets.map((s) => Buffer.from(s, 'utf8').toString('latin1'));
  const masked = maskText(view, asBytes);
  return masked === view ? body : Buffer.from(masked, 'latin1');
}
