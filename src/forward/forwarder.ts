/**
 * Forwarding: every request goes to the upstream through http-proxy over keep-alive agents, and
 * the answer is piped back as it arrives (an SSE event reaches the client the moment the upstream
 * sends it). When recording, a tee copies the request and response bytes without slowing the
 * pipe; the copy of an encoded response is decoded on the side, so the client gets the bytes it
 * asked for and the cassette gets text. Whatever goes wrong ends its own exchange only: an answer
 * HTTP cannot relay is checked before it is relayed, and every callback is guarded.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import { Readable, type Duplex, type Transform } from 'node:stream';
import { upstreamUrl } from '../config.js';
import { ProxyError, asProxyError, describeCause } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { bodyTooLarge } from '../read-body.js';
import type { CapturedExchange } from '../record/capture.js';
import { pathForLog } from '../redact/secrets.js';
import { EventBoundaries, isEventStream } from '../sse.js';
import { loadHttpProxy } from './http-proxy.js';
import { MAX_CASSETTE_BYTES } from '../storage/backend.js';

export interface ForwardOptions {
  upstream: URL;
  /** Largest request body passed on; a larger one is cut off with a 413. */
  maxBody: number;
  /** How long the upstream may take to send response headers before the client gets a 504. */
  upstreamTimeoutMs: number;
}

export interface ForwardRequest {
  /** Gets the copy of the exchange once it completed (record modes). */
  capture?: CaptureSink;
  /** The request body when it was already read (to look for a recording first). */
  body?: Buffer;
}

/** Receives the copy of an exchange that completed: upstream ended and the client got every byte. */
export type CaptureSink = (exchange: CapturedExchange) => void;

/** Connection-level headers that the proxy's own connection to the client replaces. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

/** What HTTP lets a reason phrase hold (RFC 9110: HTAB, SP, VCHAR, obs-text); the same test Node's writeHead makes. */
// eslint-disable-next-line no-control-regex
const UNSENDABLE_REASON = /[^\t\x20-\x7e\x80-\xff]/;

interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  capture: CaptureSink | undefined;
  requestChunks: Buffer[];
  started: bigint;
  proxyReq?: http.ClientRequest;
  proxyRes?: IncomingMessage;
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
 * Each request carries its exchange (http-proxy's events pass only the request). Not a WeakMap
 * keyed by the request: with one, V8 promoted every exchange (and the upstream request it holds)
 * to the old generation, and young-generation collections took 10-20 ms instead of 1-2 (measured
 * with --trace-gc under load).
 */
const EXCHANGE = Symbol('cassette-proxy.exchange');
type TrackedRequest = IncomingMessage & { [EXCHANGE]?: Exchange };
const exchangeOf = (req: IncomingMessage): Exchange | undefined => (req as TrackedRequest)[EXCHANGE];

export class Forwarder {
  private readonly proxy;
  private readonly agent: http.Agent;
  private readonly origin: string;

  constructor(
    private readonly options: ForwardOptions,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    const secure = options.upstream.protocol === 'https:';
    this.origin = options.upstream.origin;
    this.agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    this.proxy = loadHttpProxy().createProxyServer({
      target: options.upstream.href,
      changeOrigin: true,
      selfHandleResponse: true,
      secure: true,
      xfwd: false,
      agent: this.agent,
    });
    // These run inside http-proxy's emits and the upstream socket's parser callbacks, where a throw
    // would escape every handler and end the process: each is guarded to end its own exchange only.
    this.proxy.on('proxyReq', (proxyReq, req) => this.guarded(req, () => this.onProxyReq(proxyReq, req)));
    this.proxy.on('proxyRes', (proxyRes, req) => this.guarded(req, () => this.onProxyRes(proxyRes, req)));
    // Without a listener http-proxy throws; every request also passes its own error callback.
    this.proxy.on('error', (err, req) => this.guarded(req, () => this.onError(err, req)));
  }

  /**
   * Forwards one request; `capture` (when recording) gets the copy once the exchange completed.
   * Settles when the exchange is over: resolves when it completed (after the capture, when
   * recording) or the client went away; rejects with the ProxyError the client is to get, as an
   * answer before the response head went out or as a cut connection after.
   */
  forward(req: IncomingMessage, res: ServerResponse, { capture, body }: ForwardRequest = {}): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const exchange: Exchange = {
        req,
        res,
        capture,
        requestChunks: [],
        started: process.hrtime.bigint(),
        settled: false,
        settle: (failure) => {
          if (exchange.settled) return;
          exchange.settled = true;
          clearTimeout(exchange.headersTimer);
          if (failure) reject(failure);
          else resolve();
        },
      };
      (req as TrackedRequest)[EXCHANGE] = exchange;
      res.once('close', () => this.guarded(req, () => this.onClientDone(exchange)));
      const web = (options: { buffer?: Readable }): void =>
        this.proxy.web(req, res, options, (err) => this.guarded(req, () => this.onError(err, req)));
      if (body) {
        exchange.requestChunks.push(body);
        return web({ buffer: Readable.from([body]) });
      }
      // A declared length was already checked against the limit: then only a recording needs the bytes.
      const declared = req.headers['content-length'] !== undefined;
      if (declared && !capture) return web({});
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        if (exchange.failure) return;
        size += chunk.length;
        if (size > this.options.maxBody) {
          req.unpipe();
          this.fail(exchange, bodyTooLarge(this.options.maxBody));
          return;
        }
        if (capture) exchange.requestChunks.push(chunk);
      });
      web({});
    });
  }

  close(): void {
    this.agent.destroy();
    this.proxy.close();
  }

  /** Runs one exchange's callback so that anything it throws ends that exchange only. */
  private guarded(req: IncomingMessage, callback: () => void): void {
    try {
      callback();
    } catch (err) {
      const exchange = exchangeOf(req);
      this.log.error({ err: describeCause(err), method: req.method, path: pathForLog(req.url) }, 'forwarding failed unexpectedly; ending this exchange');
      if (exchange) this.fail(exchange, asProxyError(err));
    }
  }

  /**
   * Ends a failed exchange: stops the upstream side (its connection is never reused) and settles
   * with the failure, which the caller answers (or, once the head is out, cuts).
   */
  private fail(exchange: Exchange, error: ProxyError): void {
    exchange.failure ??= error;
    exchange.proxyReq?.destroy();
    // Unpiped first: a response destroyed after its parser saw the end still emits 'end', which
    // would end the client's answer as if whole.
    exchange.proxyRes?.unpipe();
    exchange.proxyRes?.destroy();
    exchange.settle(exchange.failure);
  }

  private onProxyReq(proxyReq: http.ClientRequest, req: IncomingMessage): void {
    const exchange = exchangeOf(req);
    if (!exchange) return;
    exchange.proxyReq = proxyReq;
    exchange.started = process.hrtime.bigint();
    // Over before the upstream request got its socket (the client went away, the body was too
    // large): no tokens are bought for nobody.
    if (exchange.settled || exchange.res.destroyed) {
      proxyReq.destroy();
      return;
    }
    // Only the wait for response headers is bounded: a stream may then take as long as it takes.
    // A timer per request, not one periodic sweep over a set of the waiting exchanges: with the
    // set, V8 promoted the exchanges to the old generation too (young collections twice as slow).
    const timer = setTimeout(() => {
      this.fail(
        exchange,
        new ProxyError('upstream_timeout', `the upstream ${this.origin} sent no response headers within ${this.options.upstreamTimeoutMs / 1000} s (--upstream-timeout)`),
      );
    }, this.options.upstreamTimeoutMs);
    timer.unref();
    exchange.headersTimer = timer;
    // A 101 Switching Protocols to a request that asked for no switch (the proxy forwards none)
    // cannot be relayed; Node hands the socket over only to this listener.
    proxyReq.once('upgrade', (_answer: IncomingMessage, socket: Duplex) =>
      this.guarded(req, () => {
        socket.destroy();
        this.fail(exchange, this.invalidResponse(exchange, '101 Switching Protocols to a request that asked for no protocol switch'));
      }),
    );
    // An upstream request that closes with neither a response nor an error would otherwise leave
    // the client waiting forever.
    proxyReq.once('close', () =>
      this.guarded(req, () => {
        if (!exchange.settled && !exchange.proxyRes) this.onError(new Error('the connection closed without a response'), req);
      }),
    );
  }

  private onProxyRes(proxyRes: IncomingMessage, req: IncomingMessage): void {
    const exchange = exchangeOf(req);
    if (!exchange) {
      proxyRes.destroy();
      return;
    }
    const { res } = exchange;
    exchange.proxyRes = proxyRes;
    clearTimeout(exchange.headersTimer);
    const headersAt = process.hrtime.bigint();
    this.metrics.upstreamFirstByteSeconds.observe(Number(headersAt - exchange.started) / 1e9);
    const started = exchange.started;
    proxyRes.once('end', () => this.metrics.upstreamSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9));
    proxyRes.on('error', (err) => this.guarded(req, () => this.onError(err, req)));
    proxyRes.on('aborted', () => this.guarded(req, () => this.onError(new Error('the upstream closed the connection mid-response'), req)));

    const problem = unrelayable(proxyRes);
    if (problem) return this.fail(exchange, this.invalidResponse(exchange, problem));
    const forwarded: string[] = [];
    const raw = proxyRes.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      if (!HOP_BY_HOP.has(raw[i]!.toLowerCase())) forwarded.push(raw[i]!, raw[i + 1]!);
    }
    try {
      res.writeHead(proxyRes.statusCode!, proxyRes.statusMessage, forwarded);
    } catch (err) {
      // Whatever else Node refuses to send (the checks above cover what HTTP's grammar allows).
      return this.fail(exchange, this.invalidResponse(exchange, `a response head that cannot be relayed (${describeCause(err)})`));
    }
    const sse = isEventStream(proxyRes.headers['content-type']);
    if (sse) {
      res.flushHeaders();
      res.once('close', this.metrics.streamOpened());
    }
    if (exchange.capture) exchange.tee = new ResponseTee(proxyRes, headersAt, sse);
    proxyRes.pipe(res);
  }

  /**
   * The client side is over. An exchange cut short aborts its upstream request; one that
   * completed is captured (when recording) once the copy of its body is whole.
   */
  private onClientDone(exchange: Exchange): void {
    const { req, res } = exchange;
    if (!res.writableFinished) {
      exchange.proxyReq?.destroy();
      return exchange.settle(exchange.failure);
    }
    const { tee, proxyRes, capture } = exchange;
    if (!tee || !proxyRes || !capture || exchange.failure) return exchange.settle(exchange.failure);
    tee.done.then(
      (copy) =>
        this.guarded(req, () => {
          if (exchange.failure) return exchange.settle(exchange.failure);
          if ('undecodable' in copy) {
            // The client got the bytes unchanged; the exchange completed, and is not recorded.
            const encoding = proxyRes.headers['content-encoding'];
            this.log.warn(
              { reason: copy.undecodable, encoding, method: req.method, path: pathForLog(req.url) },
              'the response body could not be decoded to check it for credentials; this exchange is not saved',
            );
            return exchange.settle();
          }
          const { bytes, decoded } = copy;
          // The settled promise keeps its value as long as the exchange is reachable: let a large body go.
          (copy as { bytes?: Buffer }).bytes = undefined;
          capture({
            method: req.method ?? 'GET',
            url: upstreamUrl(this.options.upstream, req.url ?? '/'),
            rawHeaders: req.rawHeaders,
            body: Buffer.concat(exchange.requestChunks),
            durationNs: tee.headersAt - exchange.started,
            eventOffsetsMs: tee.eventOffsetsMs,
            response: {
              httpVersionMajor: proxyRes.httpVersionMajor,
              httpVersionMinor: proxyRes.httpVersionMinor,
              statusCode: proxyRes.statusCode ?? 0,
              statusMessage: proxyRes.statusMessage ?? '',
              rawHeaders: proxyRes.rawHeaders,
              body: bytes,
              decoded,
            },
          });
          exchange.settle();
        }),
      (err: unknown) =>
        this.guarded(req, () => {
          // The upstream broke off (then onError settled already) or the copy itself failed.
          this.log.warn({ err: describeCause(err), method: req.method, path: pathForLog(req.url) }, 'could not copy the response for the cassette; it is not saved');
          this.fail(exchange, exchange.failure ?? asProxyError(err));
        }),
    );
  }

  private onError(err: Error, req: IncomingMessage): void {
    const exchange = exchangeOf(req);
    if (!exchange) return;
    const { res } = exchange;
    if (exchange.settled) return;
    // The client went away (http-proxy reports its aborted request): nothing is left to answer.
    if (res.destroyed || req.socket.destroyed) {
      exchange.proxyReq?.destroy();
      return exchange.settle();
    }
    if (exchange.failure) return this.fail(exchange, exchange.failure);
    const { proxyRes } = exchange;
    // llhttp's errors: the upstream sent bytes that are not HTTP (a status outside 100-999, a
    // malformed header, more bytes than its Content-Length said).
    if ((err as NodeJS.ErrnoException).code?.startsWith('HPE_')) {
      const what = proxyRes?.complete ? 'more bytes after its response had ended' : 'something that is not valid HTTP';
      return this.fail(exchange, this.invalidResponse(exchange, `${what} (${describeCause(err)})`, err));
    }
    const length = proxyRes?.headers['content-length'];
    if (proxyRes && length !== undefined && proxyRes.headers['transfer-encoding'] === undefined) {
      return this.fail(exchange, this.invalidResponse(exchange, `Content-Length ${length} and then closed the connection before sending that many bytes`, err));
    }
    const where = proxyRes ? 'broke off mid-response' : 'could not be reached';
    this.log.warn({ upstream: this.origin, err: describeCause(err), method: req.method, path: pathForLog(req.url) }, `upstream ${where}`);
    const message = proxyRes
      ? `the upstream ${this.origin} broke off mid-response: ${describeCause(err)}`
      : `cassette-proxy could not reach the upstream ${this.origin}: ${describeCause(err)}. Check --upstream and the network.`;
    this.fail(exchange, new ProxyError('upstream_unreachable', message, { cause: err }));
  }

  /** The failure for an upstream answer HTTP cannot relay; logged, since the client only sees a 502 or a cut. */
  private invalidResponse(exchange: Exchange, what: string, cause?: Error): ProxyError {
    const { req } = exchange;
    this.log.warn({ upstream: this.origin, problem: what, method: req.method, path: pathForLog(req.url) }, 'upstream answered something HTTP cannot relay');
    return new ProxyError(
      'upstream_invalid_response',
      `the upstream ${this.origin} answered ${what}, which cassette-proxy cannot relay to the client; nothing was saved. Check that --upstream is an HTTP API.`,
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

type Decoder = Transform & zlib.Zlib;

/** The content codings the recording decodes (Node joins repeated headers, so stacked codings read `gzip, gzip`). */
const DECODERS: Partial<Record<string, () => Decoder>> = {
  gzip: () => zlib.createGunzip(),
  'x-gzip': () => zlib.createGunzip(),
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
};

/**
 * A second try, as raw DEFLATE, where servers are commonly sloppy: `deflate` sent without its
 * zlib wrapper; gzip whose 8-byte trailer (a checksum and length) is cut off, while the DEFLATE
 * data it wraps is whole. `start` finds where the DEFLATE data begins; at most `after` bytes may
 * follow its end (a gzip body with a whole trailer that failed has a bad checksum: refused).
 */
const SECOND_TRY: Partial<Record<string, { start: (bytes: Buffer) => number | undefined; after: number }>> = {
  deflate: { start: () => 0, after: 0 },
  gzip: { start: gzipHeaderLength, after: 7 },
  'x-gzip': { start: gzipHeaderLength, after: 7 },
};

/** The length of a gzip member's header (RFC 1952), when `bytes` begins with a whole one. */
function gzipHeaderLength(bytes: Buffer): number | undefined {
  if (bytes.length < 10 || bytes[0] !== 0x1f || bytes[1] !== 0x8b || bytes[2] !== 8) return undefined;
  const flags = bytes[3]!;
  let at = 10;
  if (flags & 4) at = at + 2 <= bytes.length ? at + 2 + bytes.readUInt16LE(at) : Infinity; // FEXTRA
  if (flags & 8) at = bytes.indexOf(0, at) + 1 || Infinity; // FNAME
  if (flags & 16) at = bytes.indexOf(0, at) + 1 || Infinity; // FCOMMENT
  if (flags & 2) at += 2; // FHCRC
  return at <= bytes.length ? at : undefined;
}

/** The copy of a response for the cassette, or why there is none: a body the tee could not decode is never stored. */
export type TeeResult = { bytes: Buffer; decoded: boolean } | { undecodable: string };

/**
 * The recording side of a response: copies the bytes as the pipe passes them, decodes an encoded
 * body on the side, and notes when each SSE event arrived. A body it cannot decode whole is not
 * kept as sent either: redaction could not see inside it, so a credential it echoes would reach
 * the disk compressed.
 */
class ResponseTee {
  readonly done: Promise<TeeResult>;
  eventOffsetsMs: number[] | undefined;

  constructor(
    source: IncomingMessage,
    readonly headersAt: bigint,
    sse: boolean,
  ) {
    const encoding = String(source.headers['content-encoding'] ?? '').trim().toLowerCase();
    const plain = encoding === '' || encoding === 'identity';
    const makeDecoder = DECODERS[encoding];
    // With a known length the copy is made once, in place; chunks are let go as they arrive.
    const declared = Number(source.headers['content-length']);
    const length = Number.isInteger(declared) && declared >= 0 ? declared : undefined;
    let raw: ByteCollector | undefined = makeDecoder ? new ByteCollector(length) : undefined;
    let decodedChunks = new ByteCollector(makeDecoder ? undefined : length);
    let boundaries: EventBoundaries | undefined;
    /** Starts the decoded copy (again, on a second try: what the first one decoded is dropped). */
    const restart = (): void => {
      boundaries = sse ? new EventBoundaries() : undefined;
      if (sse) this.eventOffsetsMs = [];
    };
    restart();
    const onDecoded = (chunk: Buffer): void => {
      decodedChunks.push(chunk);
      if (!boundaries) return;
      const at = Number(process.hrtime.bigint() - headersAt) / 1e6;
      boundaries.scan(chunk, () => this.eventOffsetsMs!.push(Math.round(at * 1000) / 1000));
    };

    this.done = new Promise((resolve, reject) => {
      if (!plain && !makeDecoder) {
        resolve({ undecodable: `cassette-proxy does not decode the content coding "${encoding}"` });
        return;
      }
      // The copy runs inside the response's events: a throw (a body too large for one buffer) fails
      // the copy, not the process, and the client's stream goes on.
      let failed = false;
      const copying =
        <T extends unknown[]>(step: (...args: T) => void) =>
        (...args: T): void => {
          if (failed) return;
          try {
            step(...args);
          } catch (err) {
            failed = true;
            reject(err);
          }
        };
      source.on('error', reject);
      // Settles even when the response is destroyed without an error (e.g. when the exchange failed).
      source.on('close', () => {
        if (!source.readableEnded) reject(new Error('the upstream response closed before it ended'));
      });
      if (!makeDecoder) {
        source.on('data', copying(onDecoded));
        source.on('end', copying(() => resolve({ bytes: decodedChunks.take(), decoded: false })));
        return;
      }
      const undecodable = (why: string): void => {
        failed = true;
        raw = undefined;
        resolve({ undecodable: why });
      };
      let decoder: Decoder | undefined;
      let retried = false;
      /** Decodes with `next` from now on; on a second try, fed first with the bytes so far from `start`. */
      const decodeWith = (next: Decoder, second?: { start: number; after: number }): void => {
        decoder = next;
        next.on('data', copying(onDecoded));
        next.on(
          'end',
          copying(() => {
            // bytesWritten counts the input the decoder used: up to the end of the DEFLATE data.
            const trailing = second ? raw!.size - second.start - next.bytesWritten : 0;
            if (trailing > (second?.after ?? 0)) undecodable(`${trailing} bytes follow the end of the compressed data`);
            else resolve({ bytes: decodedChunks.take(), decoded: true });
          }),
        );
        next.on(
          'error',
          copying((err: Error) => {
            if (decoder !== next) return;
            const second = retried ? undefined : SECOND_TRY[encoding];
            const start = second?.start(raw!.peek());
            if (!second || start === undefined) return undecodable(describeCause(err));
            retried = true;
            decodedChunks = new ByteCollector();
            restart();
            decodeWith(zlib.createInflateRaw(), { start, after: second.after });
          }),
        );
        if (second) next.write(raw!.peek().subarray(second.start));
        if (source.readableEnded) next.end();
      };
      source.on(
        'data',
        copying((chunk: Buffer) => {
          raw!.push(chunk);
          decoder!.write(chunk);
        }),
      );
      source.on(
        'end',
        copying(() => {
          // No body at all (a HEAD, a 204 or 304 naming its coding): nothing to decode, nothing to hide.
          if (raw!.size === 0) resolve({ bytes: raw!.take(), decoded: false });
          else decoder!.end();
        }),
      );
      decodeWith(makeDecoder());
    });
    // Read only when the client got the whole answer; otherwise its failure is the client's cut.
    this.done.catch(() => undefined);
  }
}

/**
 * Collects a body's bytes into one buffer as they arrive: sized from Content-Length when there is
 * one (one copy, no join at the end), grown by doubling otherwise.
 */
class ByteCollector {
  private buffer: Buffer;
  private length = 0;

  constructor(private readonly expected?: number) {
    // A declared length is believed up to the largest cassette (a larger body could not be saved
    // anyway): one buffer, no copies. Memory an upstream declares and never sends is reserved,
    // not used (a large allocation's pages are only committed as bytes arrive).
    this.buffer = Buffer.allocUnsafe(Math.max(0, Math.min(expected ?? 16 * 1024, MAX_CASSETTE_BYTES)));
  }

  push(chunk: Buffer): void {
    const needed = this.length + chunk.length;
    if (needed > this.buffer.length) {
      // Past the reservation, doubling; up to the declared length at once when it says more will come.
      const declared = this.expected !== undefined && needed <= this.expected ? this.expected : 0;
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, needed, declared));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    chunk.copy(this.buffer, this.length);
    this.length += chunk.length;
  }

  get size(): number {
    return this.length;
  }

  /** The bytes so far, kept. */
  peek(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  take(): Buffer {
    const whole = this.buffer.subarray(0, this.length);
    this.buffer = Buffer.alloc(0);
    this.length = 0;
    return whole;
  }
}
