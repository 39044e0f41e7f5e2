/**
 * The Gemini API (generativelanguage.googleapis.com): the key in `x-goog-api-key` or the `key`
 * query parameter, streams as SSE with `:streamGenerateContent?alt=sse`, errors shaped
 * `{"error":{"code","message","status"}}` with Google's canonical status names. Its SDK
 * (@google/genai) retries only when asked to (`httpOptions.retryOptions`), and then 408, 429 and
 * 500-504 only: a miss (404) is never retried.
 */
import type { ProxyError } from '../errors.js';
import type { RenderedError } from '../http/respond.js';
import { streams, type ProviderProfile } from './profile.js';

/** Google's canonical status name for each HTTP status the proxy answers with. */
const STATUS_NAMES: Readonly<Record<number, string>> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  408: 'DEADLINE_EXCEEDED',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

export const gemini: ProviderProfile = {
  name: 'gemini',
  baseUrl: 'https://generativelanguage.googleapis.com',
  hosts: [/^generativelanguage\.googleapis\.com$/],
  overloadedStatus: 503,
  key: { header: 'x-goog-api-key', prefix: '', replaces: { headers: [], params: ['key'] } },
  credentialHeaders: ['x-goog-api-key'],
  credentialParams: ['key'],
  framing: streams({}),
  renderError(error: ProxyError): RenderedError {
    const status = STATUS_NAMES[error.status] ?? (error.status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION');
    return {
      body: JSON.stringify({ error: { code: error.status, message: error.message, status } }),
      headers: { 'content-type': 'application/json; charset=UTF-8' },
    };
  },
};
