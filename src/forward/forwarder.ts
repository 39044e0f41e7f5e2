/**
 * Forwarding: every request goes to the upstream through http-proxy over keep-alive agents, and
 * the answer is piped back as it arrives (an SSE event reaches the client the moment the upstream
 * sends it). When recording, a tee copies the request and response bytes without slowing the
 * pipe; the copy of an encoded response is decoded on the side, so the client gets the bytes it
 * asked for and the cassette gets text.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import { Readable, type Transform } from 'node:stream';
import { upstreamUrl } from '../config.js';
import { ProxyError, describeCause, sendError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { bodyTooLarge } from '../read-body.js';
import type { CapturedExchange } from '../record/capture.js';
import { maskShapes } from '../redact/secrets.js';
import { EventBoundaries, isEventStream } from '../sse.js';
import { loadHttpProxy } from './http-proxy.js';

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

interface Exchange {
  capture: CaptureSink | undefined;
  requestChunks: Buffer[];
  started: bigint;
  proxyReq?: http.ClientRequest;
  /** Bounds the wait for the upstream's response headers (--upstream-timeout). */
  headersTimer?: NodeJS.Timeout;
  /** Set when the proxy itself stopped the exchange (e.g. the body was too large). */
  failure?: ProxyError;
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

  constructor(
    private readonly options: ForwardOptions,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    const secure = options.upstream.protocol === 'https:';
    this.agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    this.proxy = loadHttpProxy().createProxyServer({
      target: options.upstream.href,
      changeOrigin: true,
      selfHandleResponse: true,
      secure: true,
      xfwd: false,
      agent: this.agent,
    });
    this.proxy.on('proxyReq', (proxyReq, req, res) => this.onProxyReq(proxyReq, req, res as ServerResponse));
    this.proxy.on('proxyRes', (proxyRes, req, res) => this.onProxyRes(proxyRes, req, res as ServerResponse));
    // Without a listener http-proxy throws; every request also passes its own error callback.
    this.proxy.on('error', (err, req, res) => this.onError(err, req, res as ServerResponse));
  }

  /** Forwards one request; `capture` (when recording) gets the copy once the exchange completed. */
  forward(req: IncomingMessage, res: ServerResponse, { capture, body }: ForwardRequest = {}): void {
    const exchange: Exchange = { capture, requestChunks: [], started: process.hrtime.bigint() };
    (req as TrackedRequest)[EXCHANGE] = exchange;
    if (body) {
      exchange.requestChunks.push(body);
      this.proxy.web(req, res, { buffer: Readable.from([body]) }, (err) => this.onError(err, req, res));
      return;
    }
    // A declared length was already checked against the limit: then only a recording needs the bytes.
    const declared = req.headers['content-length'] !== undefined;
    if (declared && !capture) {
      this.proxy.web(req, res, {}, (err) => this.onError(err, req, res));
      return;
    }
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (exchange.failure) return;
      size += chunk.length;
      if (size > this.options.maxBody) {
        exchange.failure ??= bodyTooLarge(this.options.maxBody);
        req.unpipe();
        exchange.proxyReq?.destroy();
        this.onError(exchange.failure, req, res);
        return;
      }
      if (capture) exchange.requestChunks.push(chunk);
    });
    this.proxy.web(req, res, {}, (err) => this.onError(err, req, res));
  }

  close(): void {
    this.agent.destroy();
    this.proxy.close();
  }

  private onProxyReq(proxyReq: http.ClientRequest, req: IncomingMessage, res: ServerResponse): void {
    const exchange = exchangeOf(req);
    if (!exchange) return;
    exchange.proxyReq = proxyReq;
    exchange.started = process.hrtime.bigint();
    // Only the wait for response headers is bounded: a stream may then take as long as it takes.
    // A timer per request, not one periodic sweep over a set of the waiting exchanges: with the
    // set, V8 promoted the exchanges to the old generation too (young collections twice as slow).
    const timer = setTimeout(() => {
      exchange.failure ??= new ProxyError(
        'upstream_timeout',
        `the upstream ${this.options.upstream.origin} sent no response headers within ${this.options.upstreamTimeoutMs / 1000} s (--upstream-timeout)`,
      );
      proxyReq.destroy();
    }, this.options.upstreamTimeoutMs);
    timer.unref();
    exchange.headersTimer = timer;
    // A client that goes away aborts the upstream request: no tokens are bought for nobody.
    res.once('close', () => {
      clearTimeout(timer);
      if (!res.writableFinished) proxyReq.destroy();
    });
  }

  private onProxyRes(proxyRes: IncomingMessage, req: IncomingMessage, res: ServerResponse): void {
    const exchange = exchangeOf(req);
    clearTimeout(exchange?.headersTimer);
    const headersAt = process.hrtime.bigint();
    if (exchange) {
      this.metrics.upstreamFirstByteSeconds.observe(Number(headersAt - exchange.started) / 1e9);
      const started = exchange.started;
      proxyRes.once('end', () => this.metrics.upstreamSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9));
    }
    const forwarded: string[] = [];
    const raw = proxyRes.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      if (!HOP_BY_HOP.has(raw[i]!.toLowerCase())) forwarded.push(raw[i]!, raw[i + 1]!);
    }
    const sse = isEventStream(proxyRes.headers['content-type']);
    res.writeHead(proxyRes.statusCode ?? 502, proxyRes.statusMessage, forwarded);
    if (sse) {
      res.flushHeaders();
      res.once('close', this.metrics.streamOpened());
    }

    const tee = exchange?.capture ? new ResponseTee(proxyRes, headersAt, sse, this.log) : undefined;
    proxyRes.on('error', (err) => this.cutStream(res, err));
    proxyRes.on('aborted', () => this.cutStream(res, new Error('the upstream closed the connection mid-response')));
    proxyRes.pipe(res);

    if (!tee || !exchange?.capture) return;
    const capture = exchange.capture;
    let clientDone = false;
    let body: { bytes: Buffer; decoded: boolean } | undefined;
    const complete = (): void => {
      if (!clientDone || !body) return;
      const { bytes, decoded } = body;
      body = undefined; // held by closures that outlive the exchange: let a large body go
      capture({
        method: req.method ?? 'GET',
        url: upstreamUrl(this.options.upstream, req.url ?? '/'),
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(exchange.requestChunks),
        durationNs: headersAt - exchange.started,
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
    };
    res.once('finish', () => {
      clientDone = true;
      complete();
    });
    tee.done.then(
      (result) => {
        body = result;
        complete();
      },
      () => undefined, // a cut stream is not recorded; cutStream already answered the client
    );
  }

  /** Once bytes went out, the only honest signal left is to break the client's connection. */
  private cutStream(res: ServerResponse, err: Error): void {
    if (res.destroyed) return;
    this.log.warn({ err: describeCause(err) }, 'upstream response broke off; closing the client connection');
    res.destroy(err);
  }

  private onError(err: Error, req: IncomingMessage, res: ServerResponse): void {
    const failure = exchangeOf(req)?.failure;
    if (failure && !res.headersSent && !res.destroyed) {
      sendError(res, failure);
      return;
    }
    if (res.headersSent || res.destroyed || req.socket.destroyed) {
      if (!res.destroyed) res.destroy(err);
      return;
    }
    const origin = this.options.upstream.origin;
    const error = new ProxyError(
      'upstream_unreachable',
      `cassette-proxy could not reach the upstream ${origin}: ${describeCause(err)}. Check --upstream and the network.`,
      { cause: err },
    );
    this.log.warn({ upstream: origin, err: describeCause(err), method: req.method, path: maskShapes((req.url ?? '/').split('?')[0]!) }, 'upstream unreachable');
    sendError(res, error);
  }
}

const DECODERS: Partial<Record<string, () => Transform>> = {
  gzip: () => zlib.createGunzip(),
  'x-gzip': () => zlib.createGunzip(),
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
};

/**
 * The recording side of a response: copies the bytes as the pipe passes them, decodes an encoded
 * body on the side, and notes when each SSE event arrived.
 */
class ResponseTee {
  readonly done: Promise<{ bytes: Buffer; decoded: boolean }>;
  eventOffsetsMs: number[] | undefined;

  constructor(source: IncomingMessage, headersAt: bigint, sse: boolean, log: Logger) {
    const encoding = String(source.headers['content-encoding'] ?? '').trim().toLowerCase();
    const makeDecoder = DECODERS[encoding];
    // With a known length the copy is made once, in place; chunks are let go as they arrive.
    const declared = Number(source.headers['content-length']);
    const length = Number.isInteger(declared) && declared >= 0 ? declared : undefined;
    const raw = new ByteCollector(makeDecoder ? length : 0);
    const decodedChunks = new ByteCollector(makeDecoder ? undefined : length);
    const boundaries = sse ? new EventBoundaries() : undefined;
    if (boundaries) this.eventOffsetsMs = [];
    const onDecoded = (chunk: Buffer): void => {
      decodedChunks.push(chunk);
      if (!boundaries) return;
      const at = Number(process.hrtime.bigint() - headersAt) / 1e6;
      boundaries.scan(chunk, () => this.eventOffsetsMs!.push(Math.round(at * 1000) / 1000));
    };
    const decoder = makeDecoder?.();

    this.done = new Promise((resolve, reject) => {
      source.on('error', reject);
      source.on('aborted', () => reject(new Error('aborted')));
      if (!decoder) {
        source.on('data', onDecoded);
        source.on('end', () => resolve({ bytes: decodedChunks.take(), decoded: false }));
        return;
      }
      let decodable = true;
      source.on('data', (chunk: Buffer) => {
        raw.push(chunk);
        if (decodable) decoder.write(chunk);
      });
      source.on('end', () => decoder.end());
      decoder.on('data', onDecoded);
      decoder.on('end', () => resolve({ bytes: decodedChunks.take(), decoded: true }));
      decoder.on('error', (err) => {
        decodable = false;
        // The client got the bytes unchanged; the cassette keeps them raw, with their encoding header.
        log.warn({ err: describeCause(err), encoding }, 'could not decode the response for the cassette; storing it as sent');
        source.once('end', () => resolve({ bytes: raw.take(), decoded: false }));
        if (source.readableEnded) resolve({ bytes: raw.take(), decoded: false });
      });
    });
  }
}

/**
 * Collects a body's bytes into one buffer as they arrive: sized from Content-Length when there is
 * one (one copy, no join at the end), grown by doubling otherwise.
 */
class ByteCollector {
  private buffer: Buffer;
  private length = 0;

  constructor(expected?: number) {
    this.buffer = Buffer.allocUnsafe(Math.max(0, Math.min(expected ?? 16 * 1024, 2 ** 31 - 1)));
  }

  push(chunk: Buffer): void {
    if (this.length + chunk.length > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + chunk.length));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    chunk.copy(this.buffer, this.length);
    this.length += chunk.length;
  }

  take(): Buffer {
    const whole = this.buffer.subarray(0, this.length);
    this.buffer = Buffer.alloc(0);
    this.length = 0;
    return whole;
  }
}
