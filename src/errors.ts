/**
 * Errors the proxy makes itself: stable snake_case codes, and one table saying what each means for
 * HTTP. Inner layers throw a ProxyError; how its body looks is the provider's (providers/), how it
 * is sent is http/respond.ts's. Nothing here knows any provider.
 */

export type ErrorCode =
  | 'upstream_unreachable'
  | 'upstream_timeout'
  | 'upstream_invalid_response'
  | 'invalid_cassette_name'
  | 'cassette_invalid'
  | 'cassette_miss'
  | 'cassette_not_found'
  | 'cassette_unavailable'
  | 'cassette_locked'
  | 'body_too_large'
  | 'invalid_request'
  | 'bad_request'
  | 'request_timeout'
  | 'headers_too_large'
  | 'upgrade_not_supported'
  | 'not_found'
  | 'method_not_allowed'
  | 'admin_unauthorized'
  | 'admin_forbidden'
  | 'host_not_allowed'
  | 'origin_not_allowed'
  | 'mode_locked'
  | 'internal_error'
  | 'recordings_unsaved'
  | 'rate_limit_exceeded'
  | 'server_error'
  | 'overloaded';

interface ErrorKind {
  status: number;
  /**
   * True only for conditions that pass on their own (the official SDKs then retry, as they would
   * talking to the provider directly); a miss or a bad request never will.
   */
  retry: boolean;
  /** Close the connection after answering: the client may still be sending a body we will not read. */
  close?: boolean;
}

const KINDS: Record<ErrorCode, ErrorKind> = {
  upstream_unreachable: { status: 502, retry: true },
  upstream_timeout: { status: 504, retry: true },
  upstream_invalid_response: { status: 502, retry: false },
  invalid_cassette_name: { status: 400, retry: false },
  // 4xx on purpose: the official SDKs retry 5xx, and a broken cassette will not mend itself.
  cassette_invalid: { status: 400, retry: false },
  cassette_miss: { status: 404, retry: false },
  cassette_not_found: { status: 404, retry: false },
  // An I/O error while reading a cassette (EMFILE, EIO) may pass.
  cassette_unavailable: { status: 503, retry: true },
  // Another process records into this cassette: it will not pass by retrying.
  cassette_locked: { status: 409, retry: false },
  body_too_large: { status: 413, retry: false, close: true },
  invalid_request: { status: 400, retry: false },
  bad_request: { status: 400, retry: false, close: true },
  request_timeout: { status: 408, retry: false, close: true },
  headers_too_large: { status: 431, retry: false, close: true },
  upgrade_not_supported: { status: 501, retry: false, close: true },
  not_found: { status: 404, retry: false },
  method_not_allowed: { status: 405, retry: false },
  admin_unauthorized: { status: 401, retry: false },
  admin_forbidden: { status: 403, retry: false },
  host_not_allowed: { status: 403, retry: false },
  origin_not_allowed: { status: 403, retry: false },
  mode_locked: { status: 409, retry: false },
  internal_error: { status: 500, retry: false },
  // Not an answer to a request: the library's close() rejects with it (the command exits 1).
  recordings_unsaved: { status: 500, retry: false },
  // Injected faults (src/faults/): retryable, as the provider's own 429, 500 and 503 are to its SDKs.
  rate_limit_exceeded: { status: 429, retry: true },
  server_error: { status: 500, retry: true },
  overloaded: { status: 503, retry: true },
};

export class ProxyError extends Error {
  readonly code: ErrorCode;
  readonly param: string | null;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; param?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProxyError';
    this.code = code;
    this.param = options.param ?? null;
  }

  get status(): number {
    return KINDS[this.code].status;
  }

  /** Whether retrying may succeed: the condition passes on its own. */
  get retry(): boolean {
    return KINDS[this.code].retry;
  }

  /** Whether the answer closes the connection. */
  get closesConnection(): boolean {
    return KINDS[this.code].close === true;
  }
}

/**
 * The one way to turn anything thrown into a ProxyError: a ProxyError stays as it is, anything else
 * becomes an `internal_error` saying `what` failed and why, with the original as its cause.
 */
export function asProxyError(err: unknown, what = 'cassette-proxy failed'): ProxyError {
  if (err instanceof ProxyError) return err;
  return new ProxyError('internal_error', `${what}: ${describeCause(err)}`, { cause: err });
}

/** A short human description of a low-level error: code and message, e.g. "ECONNREFUSED connect ...". */
export function describeCause(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code} ${err.message}` : err.message;
  }
  return String(err);
}
