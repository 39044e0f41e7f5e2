/**
 * WebSocket pass-through: the upgrade goes to the exchange's upstream first, and only once it
 * answered `101` is the client's handshake completed, so that an upstream that refuses (401, 404,
 * unreachable) is answered over HTTP as it would be without the proxy. Then frames flow both ways
 * as they arrive, text and binary, and a close is relayed with its code and reason. When one side
 * fails the other is closed with a code that says which: 1014 (bad gateway) to the client when the
 * upstream broke or sent what the proxy refuses, 1001 (going away) to the upstream when the client
 * did. Frames larger than --max-body are refused by the WebSocket library (1009) on either side.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { type RawData } from 'ws';
import { isCloseCode } from '../cassette/codec.js';
import { ProxyError, describeCause } from '../errors.js';
import type { Capture, Exchange } from '../exchange/exchange.js';
import { HOP_BY_HOP, WEBSOCKET_HANDSHAKE } from '../http/headers.js';
import type { Logger } from '../log.js';
import { upstreamUrl } from '../providers/profile.js';
import type { WsAudio } from '../mode.js';
import { FrameLog } from '../record/frames.js';
import { pathForLog } from '../redact/secrets.js';

/** Bytes waiting to be written to one side above which the other side is no longer read, and below which it is read again. */
const RELAY_HIGH_WATER = 1 << 20;
const RELAY_LOW_WATER = 1 << 18;

/** Completes a client's handshake (choosing `protocol`, if any); undefined when the handshake failed. */
export type AcceptClient = (req: IncomingMessage, socket: Duplex, head: Buffer, protocol: string | undefined) => Promise<WebSocket | undefined>;

export interface SessionEnd {
  /** Closed by a close frame from one side, with no protocol error and not cut by shutdown: the only kind saved. */
  complete: boolean;
  frames: { client: number; server: number };
  /** How it ended, for the log line. */
  ended: string;
  /** The copy for the cassette, when recording and complete. */
  capture?: Capture;
  /** Replay: a client frame matched no recording (or never came). */
  miss?: boolean;
}

/** Not relayed to the upstream: the connection's own headers, and those the WebSocket library sets itself. */
const NOT_FORWARDED: ReadonlySet<string> = new Set([...HOP_BY_HOP, ...WEBSOCKET_HANDSHAKE, 'sec-websocket-protocol', 'host', 'content-length']);

export interface RelayOptions {
  /** Largest frame either side may send (--max-body). */
  maxPayload: number;
  /** How long the upstream may take to answer the upgrade (--upstream-timeout). */
  upstreamTimeoutMs: number;
}

export class WebSocketRelay {
  constructor(
    private readonly options: RelayOptions,
    private readonly accept: AcceptClient,
    private readonly log: Logger,
  ) {}

  /**
   * Relays one session until both sides closed. Rejects with the ProxyError to answer over HTTP
   * when the upstream could not be reached; an upstream's own refusal is relayed as it came.
   * `record`: keep a copy of the frames (audio as --ws-audio says) within `budget` bytes.
   */
  relay(exchange: Exchange, socket: Duplex, head: Buffer, sessions: OpenSessions, record?: { audio: WsAudio; budget: number }): Promise<SessionEnd> {
    const { req, upstream } = exchange;
    const url = upstreamUrl(upstream, req.url ?? '/').replace(/^http/, 'ws');
    const headers: Record<string, string> = {};
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!;
      if (NOT_FORWARDED.has(name.toLowerCase())) continue;
      headers[name] = headers[name] === undefined ? req.rawHeaders[i + 1]! : `${headers[name]}, ${req.rawHeaders[i + 1]}`;
    }
    const protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
    const started = process.hrtime.bigint();
    return new Promise<SessionEnd>((resolve, reject) => {
      const upstreamWs = new WebSocket(url, protocols, {
        headers,
        maxPayload: this.options.maxPayload,
        handshakeTimeout: this.options.upstreamTimeoutMs,
        perMessageDeflate: false,
        followRedirects: false,
      });
      let answer: IncomingMessage | undefined;
      let handshakeNs = 0n;
      let opened = false;
      // A client that leaves while the upstream is being reached buys nothing.
      const clientGone = (): void => upstreamWs.terminate();
      socket.once('close', clientGone);
      upstreamWs.once('upgrade', (response) => {
        answer = response;
        handshakeNs = process.hrtime.bigint() - started;
      });
      upstreamWs.on('error', (err) => {
        if (opened) return; // the session's close handling says how it ended
        socket.off('close', clientGone);
        const origin = upstream.url.origin;
        this.log.warn({ upstream: origin, err: describeCause(err), path: pathForLog(req.url) }, 'upstream WebSocket could not be opened');
        const timeout = /timed out/i.test(err.message);
        reject(
          timeout
            ? new ProxyError('upstream_timeout', `the upstream ${origin} did not answer the WebSocket upgrade within ${this.options.upstreamTimeoutMs / 1000} s (--upstream-timeout)`)
            : new ProxyError('upstream_unreachable', `cassette-proxy could not open a WebSocket to the upstream ${origin}: ${describeCause(err)}. Check --upstream and the network.`, { cause: err }),
        );
      });
      // The upstream refused the upgrade: its answer goes to the client as it came (a client sees a 401 as a 401).
      upstreamWs.once('unexpected-response', (_request, response) => {
        socket.off('close', clientGone);
        relayRefusal(response, socket);
        resolve({ complete: false, frames: { client: 0, server: 0 }, ended: `upstream answered ${response.statusCode}` });
      });
      // What the upstream sends (session.created comes at once) and whether it closed, while the
      // client's handshake completes: handed to the session when it starts.
      const early: Early = { messages: [] };
      const keep = (data: RawData, isBinary: boolean): number => early.messages.push([data, isBinary]);
      upstreamWs.on('message', keep);
      upstreamWs.once('close', (code, reason) => (early.close = [code, reason]));
      upstreamWs.once('open', () => {
        opened = true;
        socket.off('close', clientGone);
        // Nothing more is read from the upstream until the client can take it (see pipe).
        upstreamWs.pause();
        void this.accept(req, socket, head, upstreamWs.protocol || undefined).then((client) => {
          if (!client) {
            upstreamWs.resume();
            upstreamWs.close(1001, 'client handshake failed');
            return resolve({ complete: false, frames: { client: 0, server: 0 }, ended: 'client handshake failed' });
          }
          sessions.add(client);
          const log = record && new FrameLog(record.audio, record.budget);
          upstreamWs.off('message', keep);
          this.pipe(client, upstreamWs, early, log).then((end) => {
            sessions.delete(client);
            if (sessions.wasCut(client)) end.complete = false;
            if (end.complete && log && !log.overflowed && answer) {
              end.capture = {
                method: 'GET',
                url: upstreamUrl(upstream, req.url ?? '/'),
                rawHeaders: req.rawHeaders,
                body: Buffer.alloc(0),
                response: { httpVersionMajor: answer.httpVersionMajor, httpVersionMinor: answer.httpVersionMinor, statusCode: 101, statusMessage: answer.statusMessage ?? 'Switching Protocols', rawHeaders: answer.rawHeaders, body: Buffer.alloc(0), decoded: false },
                durationNs: handshakeNs,
                websocket: log.session(),
              };
            } else if (log?.overflowed) {
              this.log.warn({ path: pathForLog(req.url), budget: record!.budget }, 'the WebSocket session outgrew --max-body; it was relayed whole but is not saved');
            }
            resolve(end);
          }, reject);
        }, (err: unknown) => {
          // No client session: the upstream one is not left open.
          upstreamWs.terminate();
          reject(err);
        });
      });
    });
  }

  /**
   * Relays frames both ways until both sides closed; counts them and copies them into `log`. A side
   * that reads slower than the other sends holds the sender back: reading from the sender stops while
   * more than RELAY_HIGH_WATER bytes wait to be written to the reader, so TCP slows the sender down
   * instead of the proxy holding the session in memory.
   */
  private pipe(client: WebSocket, upstreamWs: WebSocket, early: Early, log: FrameLog | undefined): Promise<SessionEnd> {
    const frames = { client: 0, server: 0 };
    const failed = { client: undefined as string | undefined, server: undefined as string | undefined };
    let ended: string | undefined;
    let cleanClose = false;
    const forward = (from: 'client' | 'server', source: WebSocket, to: WebSocket) => {
      const written = (): void => {
        if (source.isPaused && to.bufferedAmount <= RELAY_LOW_WATER) source.resume();
      };
      return (data: RawData, isBinary: boolean): void => {
        const bytes = toBuffer(data);
        frames[from]++;
        log?.message(from, bytes, isBinary);
        if (to.readyState !== WebSocket.OPEN) return;
        to.send(bytes, { binary: isBinary }, written);
        if (to.bufferedAmount > RELAY_HIGH_WATER) source.pause();
      };
    };
    client.on('message', forward('client', client, upstreamWs));
    const fromUpstream = forward('server', upstreamWs, client);
    for (const [data, isBinary] of early.messages) fromUpstream(data, isBinary);
    upstreamWs.on('message', fromUpstream);
    // Paused since it opened; resumed now unless the early frames already fill the client's side (then `written` resumes it).
    if (client.bufferedAmount <= RELAY_HIGH_WATER) upstreamWs.resume();
    client.on('error', (err) => (failed.client ??= describeCause(err)));
    upstreamWs.on('error', (err) => (failed.server ??= describeCause(err)));
    const closed = (from: 'client' | 'server', other: WebSocket) => (code: number, reasonBytes: Buffer) => {
      // A side held back must read again, or it would never see the close handshake's answer.
      other.resume();
      const reason = reasonBytes.toString('utf8');
      const failure = failed[from];
      if (ended === undefined) {
        // The first side to close decides how the session ended.
        if (failure !== undefined || code === 1006) {
          ended = `${from === 'client' ? 'client' : 'upstream'} ${failure ? `failed: ${failure}` : 'went away without a close frame'}`;
          if (from === 'server') closeWith(other, 1014, `upstream ${failure ? 'sent a frame the proxy refused' : 'connection lost'}`);
          else closeWith(other, 1001, 'client went away');
        } else {
          ended = `${from === 'client' ? 'client' : 'upstream'} closed with ${code}${reason ? ` (${reason})` : ''}`;
          cleanClose = true;
          log?.close(from, code, reason);
          if (code === 1005) closeWith(other, undefined, '');
          else closeWith(other, isCloseCode(code) ? code : 1011, reason);
        }
      }
    };
    const clientClosed = new Promise<void>((done) => client.once('close', (code, reason) => (closed('client', upstreamWs)(code, reason), done())));
    const upstreamClosed = new Promise<void>((done) => {
      if (early.close) return done(closed('server', client)(...early.close));
      upstreamWs.once('close', (code, reason) => (closed('server', client)(code, reason), done()));
    });
    return Promise.all([clientClosed, upstreamClosed]).then(() => ({ complete: cleanClose, frames, ended: ended ?? 'closed' }));
  }
}

/** The open client sockets, so that shutdown can close them; a session it closed is cut, never saved. */
export class OpenSessions {
  private readonly open = new Set<WebSocket>();
  private readonly cut = new WeakSet<WebSocket>();

  add(ws: WebSocket): void {
    this.open.add(ws);
  }

  delete(ws: WebSocket): void {
    this.open.delete(ws);
  }

  wasCut(ws: WebSocket): boolean {
    return this.cut.has(ws);
  }

  /** Closes each with 1001 (going away), and drops the connection of any that has not closed a second later. */
  closeAll(): void {
    for (const ws of this.open) {
      this.cut.add(ws);
      closeWith(ws, 1001, 'cassette-proxy is shutting down');
      setTimeout(() => ws.terminate(), 1000).unref();
    }
  }
}

/** What the upstream sent before the client's handshake completed. */
interface Early {
  messages: [RawData, boolean][];
  close?: [number, Buffer];
}

/** Closes `ws` unless it is closing already; a close frame's reason is cut to the 123 bytes it may hold. */
export function closeWith(ws: WebSocket, code: number | undefined, reason: string): void {
  if (ws.readyState === WebSocket.CLOSING || ws.readyState === WebSocket.CLOSED) return;
  if (ws.readyState === WebSocket.CONNECTING) return ws.terminate();
  if (code === undefined) return ws.close();
  ws.close(code, cutReason(reason));
}

function cutReason(reason: string): string {
  let out = reason;
  while (Buffer.byteLength(out) > 123) out = out.slice(0, -1);
  return out;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** An upstream's HTTP answer to the upgrade, relayed to the client's socket and then closed. */
function relayRefusal(response: IncomingMessage, socket: Duplex): void {
  if (socket.destroyed) {
    response.destroy();
    return;
  }
  let head = `HTTP/1.1 ${response.statusCode} ${response.statusMessage ?? ''}\r\n`;
  for (let i = 0; i + 1 < response.rawHeaders.length; i += 2) {
    const name = response.rawHeaders[i]!;
    if (!HOP_BY_HOP.has(name.toLowerCase()) && !/[\r\n]/.test(response.rawHeaders[i + 1]!)) head += `${name}: ${response.rawHeaders[i + 1]}\r\n`;
  }
  socket.write(`${head}Connection: close\r\n\r\n`);
  response.on('error', () => socket.destroy());
  response.pipe(socket);
}
