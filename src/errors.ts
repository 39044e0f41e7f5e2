import type { ServerResponse } from 'node:http';

/**
 * Errors the proxy makes itself. Inner layers throw a ProxyError with a stable snake_case code;
 * the server turns it into OpenAI's error shape with the status from one table.
 */

export type ErrorCode =
  | 'upstream_unreachable'
  | 'upstream_timeout'
  | 'invalid_cassette_name'
  | 'cassette_invalid'
  | 'cassette_miss'
  | 'cassette_not_found'
  | 'cassette_unavailable'
  | 'cassette_locked'
  | 'body_too_large'
  | 'invalid_request'
  | 'not_found'
  | 'method_not_allowed'
  | 'admin_unauthorized'
  | 'admin_forbidden'
  | 'mode_locked'
  | 'internal_error';

interface ErrorKind {
  status: number;
  /** OpenAI's `error.type`. */
  type: string;
  /** Close the connection after answering: the client may still be sending a body we will not read. */
  close?: boolean;
}

const KINDS: Record<ErrorCode, ErrorKind> = {
  upstream_unreachable: { status: 502, type: 'proxy_error' },
  upstream_timeout: { status: 504, type: 'proxy_error' },
  invalid_cassette_name: { status: 400, type: 'invalid_request_error' },
  // 4xx on purpose: the official SDKs retry 5xx, and a broken cassette will not mend itself.
  cassette_invalid: { status: 400, type: 'cassette_error' },
  cassette_miss: { status: 404, type: 'cassette_error' },
  cassette_not_found: { status: 404, type: 'cassette_error' },
  // The file could not be read or written just now (EMFILE, EIO...): unlike a broken cassette, it may pass.
  cassette_unavailable: { status: 503, type: 'proxy_error' },
  cassette_locked: { status: 409, type: 'cassette_error' },
  body_too_large: { status: 413, type: 'invalid_request_error', close: true },
  invalid_request: { status: 400, type: 'invalid_request_error' },
  not_found: { status: 404, type: 'invalid_request_error' },
  method_not_allowed: { status: 405, type: 'invalid_request_error' },
  admin_unauthorized: { status: 401, type: 'authentication_error' },
  admin_forbidden: { status: 403, type: 'permission_error' },
  mode_locked: { status: 409, type: 'invalid_request_error' },
  internal_error: { status: 500, type: 'proxy_error' },
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

  get type(): string {
    return KINDS[this.code].type;
  }

  /** The JSON body in OpenAI's error shape. */
  toBody(): string {
    return JSON.stringify({
      error: { message: this.message, type: this.type, code: this.code, param: this.param },
    });
  }
}

/** Wraps anything thrown into a ProxyError, keeping the original as the cause. */
export function asProxyError(err: unknown): ProxyError {
  if (err instanceof ProxyError) return err;
  return new ProxyError('internal_error', `cassette-proxy failed: ${describeCause(err)}`, { cause: err });
}

/** A short human description of a low-level error: code and message, e.g. "ECONNREFUSED connect ...". */
export function describeCause(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code} ${err.message}` : err.message;
  }
  return String(err);
}

/**
 * Answers with a ProxyError in OpenAI's shape, marked `x-should-retry: false` so the official SDKs
 * fail at once instead of retrying. After the headers went out, breaking the connection is the
 * only way left to tell the client.
 */
export function sendError(res: ServerResponse, error: ProxyError): void {
  ownErrors.set(res, error);
  if (res.headersSent) {
    res.destroy(error);
    return;
  }
  const body = error.toBody();
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-should-retry': 'false',
  };
  if (KINDS[error.code].close) headers.connection = 'close';
  res.writeHead(error.status, headers);
  res.end(body);
}

const ownErrors = new WeakMap<ServerResponse, ProxyError>();

/** The error the proxy itself answered this response with, if it did. */
export function ownError(res: ServerResponse): ProxyError | undefined {
  return ownErrors.get(res);
}
