/**
 * Forwarding: every request goes to its exchange's upstream through http-proxy over keep-alive
 * agents, and the answer is piped back as it arrives (an event of a stream reaches the client the
 * moment the upstream sends it). When recording, the request's bytes are kept and a tee
 * (record/tee.ts) copies the response's without slowing the pipe. Whatever goes wrong ends its own
 * exchange only: an answer HTTP cannot relay is checked before it is relayed, and every callback
 * is guarded.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Readable, type Duplex } from 'node:stream';
import { ProxyError, asProxyError, describeCause } from '../errors.js';
import type { Exchange } from '../exchange/exchange.js';
import type { Hooks, UpstreamAnswer } from '../exchange/hooks.js';
import { HOP_BY_HOP, rawHeaderValues } from '../http/headers.js';
import { announcedTrailers, carriesTrailers, sendableTrailers } from '../http/trailers.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { upstreamUrl } from '../providers/profile.js';
import { bodyTooLarge } from '../read-body.js';
import { ResponseTee } from '../record/tee.js';
import { pathForLog } from '../redact/secrets.js';
import { loadHttpProxy } from './http-proxy.js';

export interface ForwardOptions {
  /** Largest request body passed on; a larger one is cut off with a 413. */
  maxBody: number;
  /** How long the upstream may take to send response headers before the client gets a 504. */
  upstreamTimeoutMs: number;
}

export interface ForwardRequest {
  /** Keep a copy of the exchange's bytes (record modes): `exchange.capture` once it completed. */
  record?: boolean;
  /** The request body's chunks when it was already read (to look for a recording first). */
  body?: readonly Buffer[];
}

/** What HTTP lets a reason phrase hold (RFC 9110: HTAB, SP, VCHAR, obs-text); the same test Node's writeHead makes. */
// eslint-disable-next-line no-control-regex
const UNSENDABLE_REASON = /[^\t\x20-\x7e\x80-\xff]/;

/** An exchange's request to its upstream, while it is in flight. */
interface UpstreamCall {
  exchange: Exchange;
  record: boolean;
  requestChunks: Buffer[];
  started: bigint;
  proxyReq?: http.ClientRequest;
  proxyRes?: IncomingMessage;
  /** What is piped to the client: the upstream's answer, or what a beforeRespond hook made of it. */
  relayed?: Readable;
  /** Bounds the wait for the upstream's response headers (--upstream-timeout). */
  headersTimer?: NodeJS.Timeout;
  /** The copy of the response, when recording. */
  tee?: ResponseTee;
  /** Set when the exchange failed; the first failure is the one reported. */
  failure?: ProxyError;
  /** True once forward()'s promise settled. */
  settled: boolean;
  /** Settles forward()'s promise, once. */
  settle(failure?: ProxyError): void;
}

/**
 * Each request carries its call (http-proxy's events pass only the request). Not a WeakMap keyed
 * by the request: with one, V8 promoted every call (and the upstream request it holds) to the old
 * generation, and young-generation collections took 10-20 ms instead of 1-2 (measured with
 * --trace-gc under load).
 */
const CALL = Symbol('cassette-proxy.upstreamCall');
type TrackedRequest = IncomingMessage & { [CALL]?: UpstreamCall };
const callOf = (req: IncomingMessage): UpstreamCall | undefined => (req as TrackedRequest)[CALL];

/** The target and agent come with each request: its exchange's upstream. */
function createProxy() {
  return loadHttpProxy().createProxyServer({
    changeOrigin: true,
    selfHandleResponse: true,
    secure: true,
    xfwd: false,
  });
}

export class Forwarder {
  /** Made at the first forward: a proxy started in replay mode never loads http-proxy. */
  private proxyServer: ReturnType<typeof createProxy> | undefined;
  /** One keep-alive pool per scheme; each pools its connections per host. */
  private readonly agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };

  constructor(
    private readonly options: ForwardOptions,
    private readonly hooks: Hooks,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  private get proxy(): ReturnType<typeof createProxy> {
    if (this.proxyServer) return this.proxyServer;
    const proxy = (this.proxyServer = createProxy());
    // These run inside http-proxy's emits and the upstream socket's parser callbacks, where a throw
    // would escape every handler and end the process: each is guarded to end its own exchange only.
    proxy.on('proxyReq', (proxyReq, req) => this.guarded(req, () => this.onProxyReq(proxyReq, req)));
    proxy.on('proxyRes', (proxyRes, req) => this.guarded(req, () => this.onProxyRes(proxyRes, req)));
    // Without a listener http-proxy throws; every request also passes its own error callback.
    proxy.on('error', (err, req) => this.guarded(req, () => this.onError(err, req)));
    return proxy;
  }

  /**
   * Forwards one exchange to its upstream; with `record`, `exchange.capture` holds the copy of its
   * bytes once it completed. Settles when the exchange is over: resolves when it completed (after
   * the copy was made, when recording) or the client went away; rejects with the ProxyError the
   * client is to get, as an answer before the response head went out or as a cut connection after.
   */
  forward(exchange: Exchange, { record = false, body }: ForwardRequest = {}): Promise<void> {
    const { req, res, upstream } = exchange;
    this.hooks.beforeForward?.(req, exchange);
    return new Promise<void>((resolve, reject) => {
      const call: UpstreamCall = {
        exchange,
        record,
        requestChunks: [],
        started: process.hrtime.bigint(),
        settled: false,
        settle: (failure) => {
          if (call.settled) return;
          call.settled = true;
          clearTimeout(call.headersTimer);
          if (failure) reject(failure);
          else resolve();
        },
      };
      (req as TrackedRequest)[CALL] = call;
      res.once('close', () => this.guarded(req, () => this.onClientDone(call)));
      const target = upstream.url.href;
      const agent = this.agents[upstream.url.protocol as 'http:' | 'https:'];
      const web = (buffer?: Readable): void =>
        this.proxy.web(req, res, { target, agent, buffer }, (err) => this.guarded(req, () => this.onError(err, req)));
      if (body) {
        call.requestChunks.push(...body);
        return web(Readable.from(body));
      }
      // A declared length was already checked against the limit: then only a recording needs the bytes.
      const declared = req.headers['content-length'] !== undefined;
      if (declared && !record) return web();
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        if (call.failure) return;
        size += chunk.length;
        if (size > this.options.maxBody) {
          req.unpipe();
          this.fail(call, bodyTooLarge(this.options.maxBody));
          return;
        }
        if (record) call.requestChunks.push(chunk);
      });
      web();
    });
  }

  close(): void {
    this.agents['http:'].destroy();
    this.agents['https:'].destroy();
    this.proxyServer?.close();
  }

  /** Runs one exchange's callback so that anything it throws ends that exchange only. */
  private guarded(req: IncomingMessage, callback: () => void): void {
    try {
      callback();
    } catch (err) {
      const call = callOf(req);
      this.log.error({ err: describeCause(err), method: req.method, path: pathForLog(req.url) }, 'forwarding failed unexpectedly; ending this exchange');
      if (call) this.fail(call, asProxyError(err));
    }
  }

  /**
   * Ends a failed exchange: stops the upstream side (its connection is never reused) and settles
   * with the failure, which the caller answers (or, once the head is out, cuts).
   */
  private fail(call: UpstreamCall, error: ProxyError): void {
    call.failure ??= error;
    call.proxyReq?.destroy();
    // Unpiped first: a response destroyed after its parser saw the end still emits 'end', which
    // would end the client's answer as if whole.
    call.relayed?.unpipe();
    call.proxyRes?.destroy();
    if (call.relayed !== call.proxyRes) call.relayed?.destroy();
    call.settle(call.failure);
  }

  private onProxyReq(proxyReq: http.ClientRequest, req: IncomingMessage): void {
    const call = callOf(req);
    if (!call) return;
    call.proxyReq = proxyReq;
    call.started = process.hrtime.bigint();
    // Over before the upstream request got its socket (the client went away, the body was too
    // large): no tokens are bought for nobody.
    if (call.settled || call.exchange.res.destroyed) {
      proxyReq.destroy();
      return;
    }
    // Only the wait for response headers is bounded: a stream may then take as long as it takes.
    // A timer per request, not one periodic sweep over a set of the waiting calls: with the set,
    // V8 promoted the calls to the old generation too (young collections twice as slow).
    const timer = setTimeout(() => {
      this.fail(
        call,
        new ProxyError('upstream_timeout', `the upstream ${call.exchange.upstream.url.origin} sent no response headers within ${this.options.upstreamTimeoutMs / 1000} s (--upstream-timeout)`),
      );
    }, this.options.upstreamTimeoutMs);
    timer.unref();
    call.headersTimer = timer;
    // A 101 Switching Protocols to a request that asked for no switch (the proxy forwards none)
    // cannot be relayed; Node hands the socket over only to this listener.
    proxyReq.once('upgrade', (_answer: IncomingMessage, socket: Duplex) =>
      this.guarded(req, () => {
        socket.destroy();
        this.fail(call, this.invalidResponse(call, '101 Switching Protocols to a request that asked for no protocol switch'));
      }),
    );
    // An upstream request that closes with neither a response nor an error would otherwise leave
    // the client waiting forever.
    proxyReq.once('close', () =>
      this.guarded(req, () => {
        if (!call.settled && !call.proxyRes) this.onError(new Error('the connection closed without a response'), req);
      }),
    );
  }

  private onProxyRes(proxyRes: IncomingMessage, req: IncomingMessage): void {
    const call = callOf(req);
    if (!call) {
      proxyRes.destroy();
      return;
    }
    const { exchange } = call;
    const { res } = exchange;
    call.proxyRes = proxyRes;
    clearTimeout(call.headersTimer);
    const headersAt = process.hrtime.bigint();
    this.metrics.upstreamFirstByteSeconds.observe(Number(headersAt - call.started) / 1e9);
    const started = call.started;
    proxyRes.once('end', () => this.metrics.upstreamSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9));
    proxyRes.on('error', (err) => this.guarded(req, () => this.onError(err, req)));
    proxyRes.on('aborted', () => this.guarded(req, () => this.onError(new Error('the upstream closed the connection mid-response'), req)));

    const problem = unrelayable(proxyRes);
    if (problem) return this.fail(call, this.invalidResponse(call, problem));
    const headers: string[] = [];
    const raw = proxyRes.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      if (!HOP_BY_HOP.has(raw[i]!.toLowerCase())) headers.push(raw[i]!, raw[i + 1]!);
    }
    let answer: UpstreamAnswer = { status: proxyRes.statusCode!, reason: proxyRes.statusMessage, headers, body: proxyRes };
    if (this.hooks.beforeRespond) answer = this.hooks.beforeRespond(answer, exchange);
    const { beforeHead } = answer;
    if (!beforeHead) return this.relay(call, answer, headersAt);
    beforeHead().then(
      () => this.guarded(req, () => this.relay(call, answer, headersAt)),
      (err: unknown) =>
        this.guarded(req, () => {
          // No answer at all: the connection is closed (sendError then finds nothing left to answer).
          res.destroy();
          this.fail(call, asProxyError(err));
        }),
    );
  }

  /** Sends the answer's head and pipes its body to the client (copying the upstream's, when recording). */
  private relay(call: UpstreamCall, { status, reason, headers, body }: UpstreamAnswer, headersAt: bigint): void {
    const { exchange, proxyRes } = call;
    const { req, res } = exchange;
    if (call.settled || res.destroyed || !proxyRes) {
      // The client left while the head waited.
      if (body !== proxyRes) body.destroy();
      return;
    }
    call.relayed = body;
    // `Trailer` is hop-by-hop: announced again for this connection when it can carry the trailers,
    // which follow the body (registered before the pipe, so they are added before it ends the answer).
    const trailers = announcedTrailers(rawHeaderValues(proxyRes.rawHeaders, 'trailer'));
    if (trailers.length > 0 && carriesTrailers(req, status) && !rawHeaderValues(headers, 'content-length').length) headers.push('Trailer', trailers.join(', '));
    proxyRes.once('end', () => this.guarded(req, () => res.addTrailers(sendableTrailers(proxyRes.rawTrailers))));
    // A hook's stream that fails cuts the answer, as an upstream that broke off would.
    if (body !== proxyRes) body.once('error', (err) => this.guarded(req, () => this.fail(call, asProxyError(err))));
    try {
      res.writeHead(status, reason, headers);
    } catch (err) {
      // Whatever else Node refuses to send (the checks above cover what HTTP's grammar allows).
      return this.fail(call, this.invalidResponse(call, `a response head that cannot be relayed (${describeCause(err)})`));
    }
    const { framing } = exchange.upstream.profile;
    const stream = framing.isStream(proxyRes.headers['content-type']);
    if (stream) {
      res.flushHeaders();
      res.once('close', this.metrics.streamOpened());
    }
    if (call.record) call.tee = new ResponseTee(proxyRes, headersAt, stream ? framing : undefined);
    body.pipe(res);
  }

  /**
   * The client side is over. An exchange cut short aborts its upstream request; one that
   * completed gets its copy (when recording) once the copy of its body is whole.
   */
  private onClientDone(call: UpstreamCall): void {
    const { exchange } = call;
    const { req, res } = exchange;
    if (!res.writableFinished) {
      call.proxyReq?.destroy();
      return call.settle(call.failure);
    }
    const { tee, proxyRes } = call;
    if (!tee || !proxyRes || call.failure) return call.settle(call.failure);
    tee.done.then(
      (copy) =>
        this.guarded(req, () => {
          if (call.failure) return call.settle(call.failure);
          if ('undecodable' in copy) {
            // The client got the bytes unchanged; the exchange completed, and is not recorded.
            const encoding = proxyRes.headers['content-encoding'];
            this.log.warn(
              { reason: copy.undecodable, encoding, method: req.method, path: pathForLog(req.url) },
              'the response body could not be decoded to check it for credentials; this exchange is not saved',
            );
            return call.settle();
          }
          const { bytes, decoded } = copy;
          // The settled promise keeps its value as long as the call is reachable: let a large body go.
          (copy as { bytes?: Buffer }).bytes = undefined;
          exchange.capture = {
            method: req.method ?? 'GET',
            url: upstreamUrl(exchange.upstream, req.url ?? '/'),
            rawHeaders: req.rawHeaders,
            body: Buffer.concat(call.requestChunks),
            durationNs: tee.headersAt - call.started,
            eventOffsetsMs: tee.eventOffsetsMs,
            response: {
              httpVersionMajor: proxyRes.httpVersionMajor,
              httpVersionMinor: proxyRes.httpVersionMinor,
              statusCode: proxyRes.statusCode ?? 0,
              statusMessage: proxyRes.statusMessage ?? '',
              rawHeaders: proxyRes.rawHeaders,
              rawTrailers: proxyRes.rawTrailers,
              body: bytes,
              decoded,
            },
          };
          call.settle();
        }),
      (err: unknown) =>
        this.guarded(req, () => {
          // The upstream broke off (then onError settled already) or the copy itself failed.
          this.log.warn({ err: describeCause(err), method: req.method, path: pathForLog(req.url) }, 'could not copy the response for the cassette; it is not saved');
          this.fail(call, call.failure ?? asProxyError(err));
        }),
    );
  }

  private onError(err: Error, req: IncomingMessage): void {
    const call = callOf(req);
    if (!call) return;
    const { res } = call.exchange;
    if (call.settled) return;
    // The client went away (http-proxy reports its aborted request): nothing is left to answer.
    if (res.destroyed || req.socket.destroyed) {
      call.proxyReq?.destroy();
      return call.settle();
    }
    if (call.failure) return this.fail(call, call.failure);
    const { proxyRes } = call;
    // llhttp's errors: the upstream sent bytes that are not HTTP (a status outside 100-999, a
    // malformed header, more bytes than its Content-Length said).
    if ((err as NodeJS.ErrnoException).code?.startsWith('HPE_')) {
      const what = proxyRes?.complete ? 'more bytes after its response had ended' : 'something that is not valid HTTP';
      return this.fail(call, this.invalidResponse(call, `${what} (${describeCause(err)})`, err));
    }
    const length = proxyRes?.headers['content-length'];
    if (proxyRes && length !== undefined && proxyRes.headers['transfer-encoding'] === undefined) {
      return this.fail(call, this.invalidResponse(call, `Content-Length ${length} and then closed the connection before sending that many bytes`, err));
    }
    const origin = call.exchange.upstream.url.origin;
    const where = proxyRes ? 'broke off mid-response' : 'could not be reached';
    this.log.warn({ upstream: origin, err: describeCause(err), method: req.method, path: pathForLog(req.url) }, `upstream ${where}`);
    const message = proxyRes
      ? `the upstream ${origin} broke off mid-response: ${describeCause(err)}`
      : `cassette-proxy could not reach the upstream ${origin}: ${describeCause(err)}. Check --upstream and the network.`;
    this.fail(call, new ProxyError('upstream_unreachable', message, { cause: err }));
  }

  /** The failure for an upstream answer HTTP cannot relay; logged, since the client only sees a 502 or a cut. */
  private invalidResponse(call: UpstreamCall, what: string, cause?: Error): ProxyError {
    const { req, upstream } = call.exchange;
    this.log.warn({ upstream: upstream.url.origin, problem: what, method: req.method, path: pathForLog(req.url) }, 'upstream answered something HTTP cannot relay');
    return new ProxyError(
      'upstream_invalid_response',
      `the upstream ${upstream.url.origin} answered ${what}, which cassette-proxy cannot relay to the client; nothing was saved. Check that --upstream is an HTTP API.`,
      { cause },
    );
  }
}

/** Why a response head cannot go to the client as it is, if it cannot. */
function unrelayable(proxyRes: IncomingMessage): string | undefined {
  const code = proxyRes.statusCode ?? 0;
  // 1xx answers never get here (Node consumes 100 and 102-199, and drops a 101 it did not ask for).
  if (!Number.isInteger(code) || code < 200 || code > 599) return `status ${code} (a final answer's status runs from 200 to 599)`;
  if (UNSENDABLE_REASON.test(proxyRes.statusMessage ?? '')) return `a reason phrase with a control character (${JSON.stringify(proxyRes.statusMessage)})`;
  return undefined;
}
