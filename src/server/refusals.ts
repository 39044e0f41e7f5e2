/**
 * What the proxy refuses before routing: bad HTTP from a client (answered on the raw socket, which
 * no handler owns), CONNECT, and a request target that is not a path. (Upgrades other than
 * WebSocket ones are refused by server/websocket.ts, which Node hands every upgrade.)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ProxyError } from '../errors.js';
import { errorResponseBytes, type ErrorRenderer } from '../http/respond.js';
import type { Logger } from '../log.js';

const SEND_PATHS = "Point the client's base URL at the proxy (http://host:port/v1) rather than using it as an HTTP proxy (HTTP_PROXY).";

const DOT_SEGMENT = /\/(?:\.|%2e){1,2}(?:\/|$)/i;

/**
 * A request the proxy refuses before anything else: a target that is not a path (absolute-form
 * `http://user:pass@host/…`, `*`), which no cassette could hold.
 */
export function refusal(req: IncomingMessage): ProxyError | undefined {
  const target = req.url ?? '';
  if (!target.startsWith('/')) {
    const what = target === '*' ? '"*"' : 'an absolute URL';
    return new ProxyError('invalid_request', `the request target must be a path such as /v1/models, got ${what}. ${SEND_PATHS}`);
  }
  // A `.` or `..` segment (or its percent-encoding) would let the upstream's own normalisation
  // climb out of an --upstream path prefix, and makes one request look like another.
  if (DOT_SEGMENT.test(target.split('?', 1)[0]!)) return new ProxyError('invalid_request', 'the request path must not hold a "." or ".." segment');
  return undefined;
}

/** The last response started on a connection, and whether a client fault on it was answered. */
const LAST_RESPONSE = Symbol('cassette-proxy.lastResponse');
const ANSWERED = Symbol('cassette-proxy.clientErrorAnswered');
type TrackedSocket = Duplex & { [LAST_RESPONSE]?: ServerResponse; [ANSWERED]?: boolean };

/** Notes the response a connection is answering now: an error on that connection must not land inside it. */
export function trackResponse(req: IncomingMessage, res: ServerResponse): void {
  (req.socket as TrackedSocket)[LAST_RESPONSE] = res;
}

/**
 * Bad HTTP from a client (malformed, too slow to send headers) never reaches a handler: answer it
 * on the raw socket and close that connection only.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex, log: Logger, errors: ErrorRenderer): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const error =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new ProxyError('request_timeout', 'the request headers did not arrive in time (--headers-timeout)')
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? new ProxyError('headers_too_large', "the request headers are larger than Node's limit (16 KiB unless node runs with --max-http-header-size)")
        : new ProxyError('bad_request', `malformed HTTP request: ${err.message}`);
  log.warn({ code: err.code, status: error.status }, 'bad request from client');
  const tracked = socket as TrackedSocket;
  if (tracked[ANSWERED]) return;
  tracked[ANSWERED] = true;
  // A pipelined request broke while the answer to a whole earlier one is still going out: the error
  // answer follows it, never lands inside it. A fault in the body of the request being answered
  // (the client left mid-body) ends the connection now, which aborts that exchange.
  const last = tracked[LAST_RESPONSE];
  if (last && last.req.complete && !last.writableFinished && !last.destroyed) last.once('close', () => answerOnSocket(socket, error, errors));
  else answerOnSocket(socket, error, errors);
}

/** Node would close a CONNECT's connection without a word. */
export function refuseConnect(socket: Duplex, log: Logger, errors: ErrorRenderer): void {
  log.warn({ method: 'CONNECT' }, 'CONNECT refused: cassette-proxy is not a forward proxy');
  answerOnSocket(socket, new ProxyError('method_not_allowed', `cassette-proxy is a reverse proxy, not a forward proxy: CONNECT is not supported. ${SEND_PATHS}`), errors);
}

/** Answers on a socket no ServerResponse owns, then closes it: it must never hold shutdown. */
export function answerOnSocket(socket: Duplex, error: ProxyError, errors: ErrorRenderer): void {
  if (socket.destroyed) return;
  socket.on('error', () => socket.destroy());
  socket.end(errorResponseBytes(error, errors), () => socket.destroy());
}
