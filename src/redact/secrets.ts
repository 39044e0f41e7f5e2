/**
 * What counts as a credential, in one place, for the redactor (before saving) and for the leak
 * guard (`cassette-proxy scan`): secret header names, query parameters and body field names, and
 * the shapes of OpenAI keys and bearer tokens.
 */

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

export const SECRET_QUERY_PARAMS = ['api-key', 'api_key', 'apikey', 'key', 'access_token', 'token'] as const;

/**
 * Body fields (JSON keys, multipart form fields) that hold credentials. A bare `token` is left
 * out on purpose: OpenAI answers use it for text (`logprobs.content[].token`).
 */
const SECRET_FIELD = /^(?:api[-_]?key|access[-_]?token|refresh[-_]?token|id[-_]?token|client[-_]?secret|secret|password|passwd)$/i;

/** Text that may hold a secret field name: bodies without it need no parsing. */
export const SECRET_FIELD_HINT = /key|token|secret|passw/i;

export function isSecretField(name: string): boolean {
  return SECRET_FIELD.test(name);
}

/** OpenAI secret keys: `sk-`, `sk-proj-`, `sk-svcacct-`, `sk-admin-` and a long tail. */
export const OPENAI_KEY = /(?<![A-Za-z0-9])sk-[A-Za-z0-9_-]{16,}/g;

/** A bearer token that is not our marker. */
export const BEARER_TOKEN = /\bBearer\s+(?!\[REDACTED\])[A-Za-z0-9._~+/=-]{16,}/gi;

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

/** Each text field of a multipart body as [name, value start, value end] offsets in its latin1 view. */
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
    const name = /content-disposition:[^\r\n]*?\bname="([^"]*)"/i.exec(latin1.slice(headersStart, headersEnd))?.[1];
    if (name !== undefined) out.push([name, headersEnd + 4, next]);
    at = next + 2;
  }
  return out;
}
