/**
 * The Anthropic API: the key in `x-api-key` (or a token in Authorization), `anthropic-version`,
 * streams of named SSE events (`message_start` … `message_stop`), errors shaped
 * `{"type":"error","error":{"type","message"}}` whose `error.type` follows the status. Its SDKs
 * obey `x-should-retry` as OpenAI's do (otherwise they retry 408, 409, 429 and 5xx).
 */
import type { ProxyError } from '../errors.js';
import type { RenderedError } from '../http/respond.js';
import { streams, type ProviderProfile } from './profile.js';

/** Anthropic's `error.type` for each status it answers; any other 4xx is invalid_request_error, 5xx api_error. */
const ERROR_TYPES: Readonly<Record<number, string>> = {
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

export const anthropic: ProviderProfile = {
  name: 'anthropic',
  baseUrl: 'https://api.anthropic.com',
  hosts: [/^api\.anthropic\.com$/],
  overloadedStatus: 529,
  key: { header: 'x-api-key', prefix: '', replaces: { headers: ['authorization'], params: [] } },
  credentialHeaders: ['x-api-key'],
  credentialParams: [],
  framing: streams({ event: ['message_stop'] }),
  renderError(error: ProxyError): RenderedError {
    const type = ERROR_TYPES[error.status] ?? (error.status >= 500 ? 'api_error' : 'invalid_request_error');
    return {
      body: JSON.stringify({ type: 'error', error: { type, message: error.message } }),
      headers: { 'content-type': 'application/json', 'x-should-retry': String(error.retry) },
    };
  },
};
