import { STATUS_CODES, type ServerResponse } from 'node:http';

/**
 * Errors the proxy makes itself. Inner layers throw a ProxyError with a stable snake_case code;
 * the server turns it into OpenAI's error shape with the status from one table.
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
  | 'recordings_unsaved';

interface ErrorKind {
  status: number;
  /** OpenAI's `error.type`. */
  type: string;
  /**
   * `x-should-retry`: true only for conditions that pass on their own (the official SDKs then
   * retry, as they would talking to OpenAI directly); a miss or a bad request never will.
   */
  retry: boolean;
  /** Close the connection after answering: the client may still be sending a body we will not read. */
  close?: boolean;
}

const KINDS: Record<ErrorCode, ErrorKind> = {
  upstream_unreachable: { status: 502, type: 'proxy_error', retry: true },
  upstream_timeout: { status: 504, type: 'proxy_error', retry: true },
  upstream_invalid_response: { status: 502, type: 'proxy_error', retry: false },
  invalid_cassette_name: { status: 400, type: 'invalid_request_error', retry: false },
  // 4xx on purpose: the official SDKs retry 5xx, and a broken cassette will not mend itself.
  cassette_invalid: { status: 400, type: 'cassette_error', retry: false },
  cassette_miss: { status: 404, type: 'cassette_error', retry: false },
  cassette_not_found: { status: 404, type: 'cassette_error', retry: false },
  // An I/O error while reading a cassette (EMFILE, EIO) may pass.
  cassette_unavailable: { status: 503, type: 'proxy_error', retry: true },
  // Another process records into this cassette: it will not pass by retrying.
  cassette_locked: { status: 409, type: 'cassette_error', retry: false },
  body_too_large: { status: 413, type: 'invalid_request_error', retry: false, close: true },
  invalid_request: { status: 400, type: 'invalid_request_error', retry: false },
  bad_request: { status: 400, type: 'invalid_request_error', retry: false, close: true },
  request_timeout: { status: 408, type: 'invalid_request_error', retry: false, close: true },
  headers_too_large: { status: 431, type: 'invalid_request_error', retry: false, close: true },
  upgrade_not_supported: { status: 501, type: 'invalid_request_error', retry: false, close: true },
  not_found: { status: 404, type: 'invalid_request_error', retry: false },
  method_not_allowed: { status: 405, type: 'invalid_request_error', retry: false },
  admin_unauthorized: { status: 401, type: 'authentication_error', retry: false },
  admin_forbidden: { status: 403, type: 'permission_error', retry: false },
  host_not_allowed: { status: 403, type: 'permission_error', retry: false },
  origin_not_allowed: { status: 403, type: 'permission_error', retry: false },
  mode_locked: { status: 409, type: 'invalid_request_error', retry: false },
  internal_error: { status: 500, type: 'proxy_error', retry: false },
  // Not an answer to a request: the library's close() rejects with it (the command exits 1).
  recordings_unsaved: { status: 500, type: 'proxy_error', retry: false },
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

/** The response headers of an error answer: its body's, the retry decision, and `connection: close` where the kind says. */
function errorHeaders(error: ProxyError, body: string): Record<string, string | number> {
  const kind = KINDS[error.code];
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-should-retry': String(kind.retry),
  };
  if (kind.close) headers.connection = 'close';
  return headers;
}

/**
 * Answers with a ProxyError in OpenAI's shape, with `x-should-retry` from the code's kind. After
 * the headers went out, breaking the connection is the only way left to tell the client; after
 * the whole answer went out, there is nothing left to tell. Never throws: it runs on error paths,
 * where a throw would escape every handler and end the process.
 */
export function sendError(res: ServerResponse, error: ProxyError): void {
  ownErrors.set(res, error);
  if (res.writableEnded || res.destroyed) return;
  try {
    if (res.headersSent) {
      res.destroy(error);
      return;
    }
    const body = error.toBody();
    // The reason phrase is given: a writeHead that threw may have left an unsendable one behind.
    res.writeHead(error.status, STATUS_CODES[error.status], errorHeaders(error, body));
    res.end(body);
  } catch {
    res.destroy();
  }
}

/**
 * The same answer as raw HTTP/1.1 bytes, for a socket no ServerResponse owns (a malformed request,
 * a CONNECT); the connection is closed after it.
 */
export function errorResponseBytes(error: ProxyError): string {
  const body = error.toBody();
  const headers = { ...errorHeaders(error, body), connection: 'close' };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\n${lines.join('')}\r\n${body}`;
}

const ownErrors = new WeakMap<ServerResponse, ProxyError>();

/** The error the proxy itself answered this response with, if it did. */
export function ownError(res: ServerResponse): ProxyError | undefined {
  return ownErrors.get(res);
}
