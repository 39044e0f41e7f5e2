/**
 * The OpenAI API (and the many servers that speak it): errors in its shape,
 * `{"error":{"message","type","code","param"}}`, with `x-should-retry`, which the official SDKs
 * obey: `true` makes them retry where the API itself would have, `false` makes them fail at once.
 * Errors relayed from the upstream are never touched; this shapes only the proxy's own.
 */
import type { ErrorCode, ProxyError } from '../errors.js';
import type { RenderedError } from '../http/respond.js';
import { streams, type ProviderProfile } from './profile.js';

/** OpenAI's `error.type` for each of the proxy's codes. */
const ERROR_TYPES: Record<ErrorCode, string> = {
  upstream_unreachable: 'proxy_error',
  upstream_timeout: 'proxy_error',
  upstream_invalid_response: 'proxy_error',
  invalid_cassette_name: 'invalid_request_error',
  cassette_invalid: 'cassette_error',
  cassette_miss: 'cassette_error',
  cassette_not_found: 'cassette_error',
  cassette_unavailable: 'proxy_error',
  cassette_locked: 'cassette_error',
  body_too_large: 'invalid_request_error',
  invalid_request: 'invalid_request_error',
  bad_request: 'invalid_request_error',
  request_timeout: 'invalid_request_error',
  headers_too_large: 'invalid_request_error',
  upgrade_not_supported: 'invalid_request_error',
  not_found: 'invalid_request_error',
  method_not_allowed: 'invalid_request_error',
  admin_unauthorized: 'authentication_error',
  admin_forbidden: 'permission_error',
  host_not_allowed: 'permission_error',
  origin_not_allowed: 'permission_error',
  mode_locked: 'invalid_request_error',
  internal_error: 'proxy_error',
  recordings_unsaved: 'proxy_error',
  // As OpenAI types its own (a request-rate limit is `requests`).
  rate_limit_exceeded: 'requests',
  server_error: 'server_error',
  overloaded: 'server_error',
};

/** Chat Completions streams end with `data: [DONE]`, Responses streams with their last event. */
export const OPENAI_FINAL_EVENTS = { data: ['[DONE]'], event: ['response.completed', 'response.failed', 'response.incomplete'] };

/** OpenAI's error shape; Azure OpenAI's clients (the same SDKs) read it too. */
export function renderOpenAIError(error: ProxyError): RenderedError {
  return {
    body: JSON.stringify({ error: { message: error.message, type: ERROR_TYPES[error.code], code: error.code, param: error.param } }),
    headers: { 'content-type': 'application/json', 'x-should-retry': String(error.retry) },
  };
}

export const openai: ProviderProfile = {
  name: 'openai',
  baseUrl: 'https://api.openai.com',
  // Servers that speak OpenAI's API (OpenRouter, Ollama, vLLM, LM Studio) have no profile of their own.
  hosts: [/^api\.openai\.com$/, /^openrouter\.ai$/, /^(localhost|127\.0\.0\.1|\[::1\])$/],
  overloadedStatus: 503,
  key: { header: 'authorization', prefix: 'Bearer ', replaces: { headers: [], params: [] } },
  // The key goes in Authorization, which redact/secrets.ts knows for every API.
  credentialHeaders: ['openai-organization', 'openai-project'],
  credentialParams: [],
  framing: streams(OPENAI_FINAL_EVENTS),
  rateLimitHeaders: (seconds) => {
    const reset = `${seconds}s`;
    return {
      'x-ratelimit-limit-requests': '500',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': reset,
      'x-ratelimit-limit-tokens': '200000',
      'x-ratelimit-remaining-tokens': '0',
      'x-ratelimit-reset-tokens': reset,
    };
  },
  renderError: renderOpenAIError,
  // The Realtime API's error event; the Responses API's WebSocket mode uses the same `error` object
  // and echoes the client's `stream_id`.
  renderSocketError(error: ProxyError, clientEvent: Record<string, unknown> | undefined): string {
    const eventId = typeof clientEvent?.event_id === 'string' ? clientEvent.event_id : null;
    const streamId = typeof clientEvent?.stream_id === 'string' ? clientEvent.stream_id : undefined;
    return JSON.stringify({
      type: 'error',
      event_id: `event_cassette_proxy_${Date.now().toString(36)}`,
      error: { type: 'invalid_request_error', code: error.code, message: error.message, param: error.param, event_id: eventId },
      ...(streamId !== undefined && { stream_id: streamId }),
    });
  },
};
