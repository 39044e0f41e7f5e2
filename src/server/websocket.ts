/**
 * WebSocket sessions: the server's `upgrade` listener. A WebSocket upgrade (GET, `Upgrade:
 * websocket`, not on the admin API) passes the same guard and refusals as any request, gets its
 * upstream and cassette the same way, and then, as its mode says, is replayed from a recorded
 * session, or relayed to the upstream (and recorded). Any other upgrade (h2c) is refused with
 * `upgrade_not_supported`. One log line per session; nothing here throws into Node's parser.
 */
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import type { BrowserGuard } from '../admin/browser-guard.js';
import { ADMIN_PREFIX } from '../admin/routes.js';
import type { Config } from '../config.js';
import { ProxyError, asProxyError, describeCause } from '../errors.js';
import { Exchange } from '../exchange/exchange.js';
import type { HeaderMap } from '../cassette/types.js';
import type { Hooks } from '../exchange/hooks.js';
import type { OpenSessions, SessionEnd, WebSocketRelay } from '../forward/websocket.js';
import type { Logger } from '../log.js';
import type { Metrics, Outcome } from '../metrics.js';
import { MODE_POLICY } from '../mode.js';
import type { Recorder } from '../record/recorder.js';
import { pathForLog } from '../redact/secrets.js';
import type { Replayer } from '../replay/replayer.js';
import type { replaySession } from '../replay/websocket.js';
import { displayPath, type CassetteNames } from '../storage/names.js';
import type { AdminState } from './admin-state.js';
import type { InFlight } from './lifecycle.js';
import { requestedCassette } from './naming.js';
import { answerOnSocket, refusal } from './refusals.js';
import type { UpstreamRouter } from './upstreams.js';

export interface SessionParts {
  config: Pick<Config, 'maxBody' | 'upstreamTimeoutMs' | 'wsAudio' | 'wsIdleTimeoutMs' | 'replayLatency' | 'replaySpeed' | 'matchIgnore'>;
  browserGuard: BrowserGuard;
  state: AdminState;
  names: CassetteNames;
  router: UpstreamRouter;
  replayer: Replayer;
  recorder: Recorder;
  hooks: Hooks;
  inFlight: InFlight;
  log: Logger;
  metrics: Metrics;
}

/** The subprotocol the upstream chose, for the client's handshake. */
const CHOSEN = Symbol('cassette-proxy.websocketProtocol');
type UpgradeRequest = IncomingMessage & { [CHOSEN]?: string };

/** What serves the sessions themselves: the WebSocket library and what uses it. */
interface Engine {
  server: WebSocketServer;
  relay: WebSocketRelay;
  /** Open client sockets, closed with 1001 when shutdown's grace period is over. */
  open: OpenSessions;
  replaySession: typeof replaySession;
}

export class WebSocketSessions {
  private engine: Promise<Engine> | undefined;
  /** The engine's open sessions once it loaded, for closeAll, which shutdown calls synchronously. */
  private open: OpenSessions | undefined;

  constructor(private readonly parts: SessionParts) {}

  /**
   * Loaded at the first upgrade, as http-proxy is at the first forward: most proxies never see a
   * WebSocket, and the library and its session code hold a few MB from start otherwise.
   */
  private load(): Promise<Engine> {
    this.engine ??= (async () => {
      const { config, log } = this.parts;
      const [{ WebSocketServer }, relaying, replaying] = await Promise.all([import('ws'), import('../forward/websocket.js'), import('../replay/websocket.js')]);
      const server = new WebSocketServer({
        noServer: true,
        maxPayload: config.maxBody,
        perMessageDeflate: false,
        handleProtocols: (_offered, req) => (req as UpgradeRequest)[CHOSEN] ?? false,
      });
      // Errors of a client socket are its session's (each session listens); the server's own are only logged.
      server.on('error', (err) => log.warn({ err: describeCause(err) }, 'WebSocket server error'));
      const relay = new relaying.WebSocketRelay({ maxPayload: config.maxBody, upstreamTimeoutMs: config.upstreamTimeoutMs }, (...args) => accept(server, ...args), log);
      this.open = new relaying.OpenSessions();
      return { server, relay, open: this.open, replaySession: replaying.replaySession };
    })().catch((err: unknown) => {
      // A load that failed (no file descriptor left, say) is tried again by the next session.
      this.engine = undefined;
      throw err;
    });
    return this.engine;
  }

  /** The `upgrade` listener. */
  readonly handle = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const { browserGuard, router, log, metrics } = this.parts;
    socket.on('error', () => socket.destroy());
    const upstream = router.route(req);
    const errors = upstream.profile;
    try {
      const forged = browserGuard.checkRequest((name) => req.headers[name]);
      if (forged) {
        log.warn({ method: req.method, path: pathForLog(req.url), code: forged.code }, forged.message);
        metrics.refused.inc({ code: forged.code });
        return answerOnSocket(socket, forged, errors);
      }
      const refused = refusal(req) ?? notWebSocket(req);
      if (refused) return answerOnSocket(socket, refused, errors);
      void this.session(req, socket, head);
    } catch (err) {
      answerOnSocket(socket, asProxyError(err), errors);
    }
  };

  /** Closes every open session with 1001 (going away): shutdown, after its grace period; such a session is not saved. */
  closeAll(): void {
    this.open?.closeAll();
  }

  private async session(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { state, names, router, inFlight, log, metrics } = this.parts;
    inFlight.begin();
    metrics.openSessions.inc();
    const exchange = new Exchange(req, new ServerResponse(req), state.mode, router.route(req), state.file);
    let end: SessionEnd | undefined;
    let failure: ProxyError | undefined;
    try {
      exchange.file = await names.resolve(requestedCassette(req) ?? state.cassette);
      end = await this.run(exchange, socket, head, await this.load());
    } catch (err) {
      failure = asProxyError(err);
      answerOnSocket(socket, failure, exchange.upstream.profile);
    } finally {
      metrics.openSessions.dec();
      inFlight.end();
    }
    try {
      this.logSession(exchange, end, failure);
    } catch (err) {
      log.error({ err: describeCause(err) }, 'could not log a WebSocket session');
    }
  }

  private async run(exchange: Exchange, socket: Duplex, head: Buffer, engine: Engine): Promise<SessionEnd> {
    const { replayer, recorder, config, hooks } = this.parts;
    const policy = MODE_POLICY[exchange.mode];
    const { req } = exchange;
    if (policy.replay) {
      let found;
      try {
        found = await replayer.find({ method: 'GET', url: req.url ?? '/', headers: req.headers, body: Buffer.alloc(0) }, exchange.file, exchange.upstream);
      } catch (err) {
        if (!(policy.forward && err instanceof ProxyError && err.code === 'cassette_not_found')) throw err;
      }
      const session = found?.kind === 'hit' ? found.interaction.cassette_proxy?.websocket : undefined;
      if (found?.kind === 'hit' && session) {
        exchange.outcome = 'replayed';
        const client = await accept(engine.server, req, socket, head, req.headers['sec-websocket-protocol']?.split(',')[0]?.trim());
        if (!client) return { complete: false, frames: { client: 0, server: 0 }, ended: 'client handshake failed' };
        engine.open.add(client);
        try {
          return await engine.replaySession(client, found.interaction, {
            cassette: displayPath(exchange.file),
            pacing: { latency: config.replayLatency, speed: config.replaySpeed },
            idleMs: config.wsIdleTimeoutMs,
            matchIgnore: config.matchIgnore,
            prepare: (text) => prepareFrame(hooks, req, text),
            errorEvent: (error, event) => renderSocketError(exchange, error, event),
          });
        } finally {
          engine.open.delete(client);
        }
      }
      if (!policy.forward) {
        exchange.outcome = 'miss';
        if (found?.kind === 'hit') throw new ProxyError('cassette_miss', `cassette-proxy replay: the recording in ${displayPath(exchange.file)} that matches ${req.method} ${pathForLog(req.url)} is an HTTP exchange, not a WebSocket session. Record the session (--mode record).`);
        throw found!.kind === 'miss' ? found!.error() : new ProxyError('cassette_miss', 'no recording matches');
      }
    }
    if (policy.record) await recorder.claim(exchange);
    const end = await engine.relay.relay(exchange, socket, head, engine.open, policy.record ? { audio: config.wsAudio, budget: config.maxBody } : undefined);
    exchange.outcome = 'forwarded';
    if (end.capture) {
      exchange.capture = end.capture;
      recorder.record(exchange);
    }
    return end;
  }

  private logSession(exchange: Exchange, end: SessionEnd | undefined, failure: ProxyError | undefined): void {
    const { log, metrics } = this.parts;
    const outcome: Outcome = failure || end?.miss ? (exchange.outcome === 'miss' || end?.miss ? 'miss' : 'error') : end?.complete ? (exchange.outcome ?? 'forwarded') : 'error';
    metrics.countExchange(exchange.mode, outcome, exchange.upstream.name);
    if (end) {
      metrics.frames.inc({ from: 'client' }, end.frames.client);
      metrics.frames.inc({ from: 'server' }, end.frames.server);
    }
    const line = {
      method: 'GET',
      path: pathForLog(exchange.req.url),
      websocket: true,
      mode: exchange.mode,
      outcome,
      duration_ms: Math.round((performance.now() - exchange.started) * 10) / 10,
      cassette: displayPath(exchange.file),
      upstream: exchange.upstream.name,
      ...(end && { frames: end.frames, ended: end.ended, saved: exchange.outcome === 'recorded' }),
      ...(failure && { error: failure.code, detail: failure.message }),
    };
    if (failure || outcome === 'miss') log.warn(line, 'WebSocket session failed');
    else log.info(line, 'WebSocket session');
  }
}

/** Completes a client's handshake; undefined when the library refused it (it answered the client itself). */
function accept(server: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer, protocol: string | undefined): Promise<WebSocket | undefined> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(undefined);
    (req as UpgradeRequest)[CHOSEN] = protocol;
    socket.once('close', () => resolve(undefined));
    server.handleUpgrade(req, socket, head, (ws) => resolve(ws));
  });
}

/**
 * A text frame prepared for matching as a request body is (the beforeMatch hooks: redaction, so a
 * recorded frame, redacted, matches the one that made it), with the upgrade request's headers.
 */
function prepareFrame(hooks: Hooks, req: IncomingMessage, text: string): string {
  const prepare = hooks.beforeMatch.request;
  if (!prepare) return text;
  const headers: HeaderMap = {};
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value : [value];
  const body = prepare({ url: req.url ?? '/', headers, body: text }).body;
  return typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
}

/** The error event of the exchange's API; a plain `{"type":"error","error":{…}}` for a profile without one. */
function renderSocketError(exchange: Exchange, error: ProxyError, event: Record<string, unknown> | undefined): string {
  const { profile } = exchange.upstream;
  if (profile.renderSocketError) return profile.renderSocketError(error, event);
  return JSON.stringify({ type: 'error', error: { code: error.code, message: error.message } });
}

/** An upgrade that is not a WebSocket one (h2c), or one to the admin API: refused as before. */
function notWebSocket(req: IncomingMessage): ProxyError | undefined {
  const upgrade = req.headers.upgrade ?? '';
  const websocket = req.method === 'GET' && upgrade.trim().toLowerCase() === 'websocket';
  if (websocket && !req.url?.startsWith(ADMIN_PREFIX)) return undefined;
  return new ProxyError(
    'upgrade_not_supported',
    `cassette-proxy relays WebSocket upgrades (GET with Upgrade: websocket) to API paths only, got ${req.method} ${pathForLog(req.url)} with Upgrade: ${JSON.stringify(upgrade)}. Use the HTTP API or a WebSocket.`,
  );
}
