/**
 * Answers with a ProxyError. The kernel decides the status and whether the connection closes
 * (errors.ts); the provider the request was for decides the body and the headers its clients read
 * (an ErrorRenderer: providers/). Never throws: it runs on error paths, where a throw would escape
 * every handler and end the process.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { ProxyError } from '../errors.js';

/** An error as a provider's clients expect it: the body, and the headers besides framing (its content type, a retry hint). */
export interface RenderedError {
  body: string;
  headers: Readonly<Record<string, string>>;
}

export interface ErrorRenderer {
  renderError(error: ProxyError): RenderedError;
}

/** The response headers of an error answer: the provider's, the body's length, and `connection: close` where the code says. */
function errorHeaders(error: ProxyError, rendered: RenderedError): Record<string, string | number> {
  const headers: Record<string, string | number> = { ...rendered.headers, 'content-length': Buffer.byteLength(rendered.body) };
  if (error.closesConnection) headers.connection = 'close';
  return headers;
}

const ownErrors = new WeakMap<ServerResponse, ProxyError>();

/**
 * Answers with `error` as `renderer` shapes it. After the headers went out, breaking the connection
 * is the only way left to tell the client; after the whole answer went out, there is nothing left
 * to tell.
 */
export function sendError(res: ServerResponse, error: ProxyError, renderer: ErrorRenderer): void {
  ownErrors.set(res, error);
  if (res.writableEnded || res.destroyed) return;
  try {
    if (res.headersSent) {
      res.destroy(error);
      return;
    }
    const rendered = renderer.renderError(error);
    // The reason phrase is given: a writeHead that threw may have left an unsendable one behind.
    res.writeHead(error.status, STATUS_CODES[error.status], errorHeaders(error, rendered));
    res.end(rendered.body);
  } catch {
    res.destroy();
  }
}

/**
 * The same answer as raw HTTP/1.1 bytes, for a socket no ServerResponse owns (a malformed request,
 * a CONNECT); the connection is closed after it.
 */
export function errorResponseBytes(error: ProxyError, renderer: ErrorRenderer): string {
  const rendered = renderer.renderError(error);
  const headers = { ...errorHeaders(error, rendered), connection: 'close' };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\n${lines.join('')}\r\n${rendered.body}`;
}

/** The error the proxy itself answered this response with, if it did. */
export function ownError(res: ServerResponse): ProxyError | undefined {
  return ownErrors.get(res);
}
