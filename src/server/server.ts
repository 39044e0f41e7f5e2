/**
 * The composition root: the listener, the routing of each request through the mode's policy,
 * the admin API, one log line and one metric per exchange, and the drain at shutdown. The only
 * module that knows all the others.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN_PREFIX, handleAdmin, type CassetteSummary } from '../admin/routes.js';
import { CassetteNames, cassettePath, displayPath, nameFromHeader } from '../cassette/names.js';
import { CassetteStore } from '../cassette/store.js';
import type { Config } from '../config.js';
import { ProxyError, asProxyError, describeCause, ownError, sendError } from '../errors.js';
import { Forwarder } from '../forward/forwarder.js';
import type { Logger } from '../log.js';
import { RequestViewer } from '../match/request-view.js';
import { Metrics, type Outcome } from '../metrics.js';
import { MODE_POLICY, type Mode } from '../mode.js';
import { bodyTooLarge, readBody } from '../read-body.js';
import { toInteraction, type CapturedExchange } from '../record/capture.js';
import { Redactor } from '../redact/redactor.js';
import { ReplayCassettes } from '../replay/cassettes.js';
import { Replayer } from '../replay/replayer.js';
import { sendRecorded } from '../replay/responder.js';

export const CASSETTE_HEADER = 'x-cassette';

export interface RunningProxy {
  /** Base URL the proxy listens on, e.g. http://127.0.0.1:8080 */
  url: string;
  server: http.Server;
  store: CassetteStore;
  metrics: Metrics;
  /** The file that requests without `x-cassette` use now. */
  readonly defaultCassette: string;
  /** Each cassette in use, with its counts (as GET /_proxy/cassettes shows). */
  cassettes(): CassetteSummary[];
  /**
   * Stops accepting, lets exchanges in flight finish for up to `graceMs` (then cuts them: a cut
   * stream is not saved), saves what is pending, gives up the cassette leases, releases the
   * upstream connections, and answers the cassette summary (`unsaved` says what could not be saved).
   */
  close(graceMs?: number): Promise<CassetteSummary[]>;
}

interface ExchangeLog {
  mode: Mode;
  cassette: string;
  started: number;
  outcome?: Outcome;
}

export async function startProxy(config: Config, log: Logger, metrics = new Metrics()): Promise<RunningProxy> {
  const state = { mode: config.mode, cassette: config.cassette, file: cassettePath(config.cassetteDir, config.cassette) };
  const forwarder = new Forwarder({ upstream: config.upstream, maxBody: config.maxBody, upstreamTimeoutMs: config.upstreamTimeoutMs }, log, metrics);
  const redactor = new Redactor({ headers: config.redactHeaders, bodyFields: config.redactBodyFields });
  const store = new CassetteStore(log, {
    saved: () => metrics.saves.inc(),
    failed: () => metrics.saveFailures.inc(),
    leaseConflict: (event) => metrics.leaseConflicts.inc({ event }),
  });
  const names = new CassetteNames(config.cassetteDir);
  // A default cassette that a symbolic link takes outside the folder stops the start.
  const defaultFile = await names.resolve(config.cassette);
  const viewer = new RequestViewer({
    ignore: config.matchIgnore,
    headers: config.matchHeaders,
    redact: (request) => redactor.redactRequest(request),
  });
  const replayCassettes = new ReplayCassettes(viewer, config.replayPolicy, log);
  const replayer = new Replayer(replayCassettes, viewer, config.upstream);
  const pacing = { latency: config.replayLatency, speed: config.replaySpeed };

  const record = (file: string, exchange: CapturedExchange): void => {
    try {
      // The store logs and counts a failed save itself, and keeps the interaction for the next save.
      store.file(file).add(redactor.redact(toInteraction(exchange))).catch(() => undefined);
    } catch (err) {
      log.error({ err: describeCause(err), cassette: displayPath(file) }, 'could not turn the exchange into an interaction; it is not saved');
      store.file(file).notRecorded(err);
    }
  };

  /** Replay first (when the mode says so), then forward (when it says so), recording if it says so. */
  const proxyRequest = async (req: IncomingMessage, res: ServerResponse, file: string, entry: ExchangeLog): Promise<void> => {
    const policy = MODE_POLICY[entry.mode];
    const declared = Number(req.headers['content-length']);
    if (declared > config.maxBody) throw bodyTooLarge(config.maxBody);
    const capture = policy.record ? (exchange: CapturedExchange) => record(file, exchange) : undefined;
    if (!policy.replay) {
      // One writer per cassette: one that another process records into is refused before anything is forwarded.
      if (policy.record) await store.claim(file);
      return forwarder.forward(req, res, { capture });
    }

    const body = await readBody(req, config.maxBody);
    const request = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body };
    let found;
    try {
      found = await replayer.find(request, file);
    } catch (err) {
      // A cassette that does not exist yet is simply empty when misses may be recorded.
      if (!(policy.forward && err instanceof ProxyError && err.code === 'cassette_not_found')) throw err;
    }
    if (found?.kind === 'hit') {
      entry.outcome = 'replayed';
      return sendRecorded(res, found.interaction, pacing, () => metrics.streamOpened());
    }
    if (policy.forward) {
      if (policy.record) await store.claim(file);
      return forwarder.forward(req, res, { capture, body });
    }
    entry.outcome = 'miss';
    log.warn({ cassette: entry.cassette, method: request.method, path: pathOf(request.url) }, found!.error.message);
    throw found!.error;
  };

  let inFlight = 0;
  let closing = false;
  let drained: (() => void) | undefined;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.url?.startsWith(ADMIN_PREFIX)) {
      void handleAdmin(req, res, admin);
      return;
    }
    inFlight++;
    if (closing) res.setHeader('connection', 'close');
    const entry: ExchangeLog = { mode: state.mode, cassette: displayPath(state.file), started: performance.now() };
    res.once('close', () => {
      finish(req, res, entry);
      if (--inFlight === 0) drained?.();
    });
    let name: string;
    try {
      name = cassetteNameOf(req) ?? state.cassette;
    } catch (err) {
      sendError(res, asProxyError(err));
      return;
    }
    // The name's real path, checked before anything is forwarded, is the cassette's one identity.
    names
      .resolve(name)
      .then((file) => {
        entry.cassette = displayPath(file);
        return proxyRequest(req, res, file, entry);
      })
      .catch((err: unknown) => sendError(res, asProxyError(err)));
  };

  const finish = (req: IncomingMessage, res: ServerResponse, entry: ExchangeLog): void => {
    const error = ownError(res);
    const policy = MODE_POLICY[entry.mode];
    const outcome: Outcome = error || !res.writableFinished ? (entry.outcome === 'miss' ? 'miss' : 'error') : (entry.outcome ?? (policy.record ? 'recorded' : 'forwarded'));
    metrics.countExchange(entry.mode, outcome);
    const line = {
      method: req.method,
      path: pathOf(req.url ?? '/'),
      mode: entry.mode,
      outcome,
      status: res.statusCode,
      duration_ms: Math.round((performance.now() - entry.started) * 10) / 10,
      cassette: entry.cassette,
      ...(error && { error: error.code }),
    };
    if (outcome === 'error') log.warn(line, 'exchange failed');
    else log.info(line, 'exchange');
  };

  const cassettes = (): CassetteSummary[] => {
    const rows = new Map<string, CassetteSummary>();
    const saves = { unsaved: 0, save_failures: 0, last_save_error: null };
    for (const { file, table } of replayCassettes.loaded()) {
      const usage = table?.usage() ?? { interactions: 0, replayed: 0, neverReplayed: 0 };
      rows.set(file, { cassette: displayPath(file), interactions_on_disk: usage.interactions, replayed: usage.replayed, never_replayed: usage.neverReplayed, recorded_since_start: 0, ...saves });
    }
    for (const cassette of store.all()) {
      const { onDisk, recordedSinceStart, unsaved, saveFailures, lastSaveError } = cassette.stats();
      const row = rows.get(cassette.file) ?? { cassette: displayPath(cassette.file), interactions_on_disk: 0, replayed: 0, never_replayed: 0, recorded_since_start: 0, ...saves };
      row.interactions_on_disk = Math.max(row.interactions_on_disk, onDisk);
      row.never_replayed = row.interactions_on_disk - row.replayed;
      Object.assign(row, { recorded_since_start: recordedSinceStart, unsaved, save_failures: saveFailures, last_save_error: lastSaveError ?? null });
      rows.set(cassette.file, row);
    }
    return [...rows.values()].sort((a, b) => a.cassette.localeCompare(b.cassette));
  };

  const admin = {
    current: () => ({ mode: state.mode, cassette: state.cassette }),
    switchTo: async (change: { mode?: Mode; cassette?: string }) => {
      // Refused (invalid_cassette_name) before anything changes, as a request naming it would be.
      if (change.cassette !== undefined) await names.resolve(change.cassette);
      const before = { mode: state.mode, cassette: state.cassette };
      if (change.cassette !== undefined) {
        state.file = cassettePath(config.cassetteDir, change.cassette);
        state.cassette = change.cassette;
      }
      if (change.mode !== undefined) state.mode = change.mode;
      log.info({ from: before, to: { mode: state.mode, cassette: state.cassette } }, 'mode changed');
    },
    lockMode: config.lockMode,
    adminToken: config.adminToken,
    cassetteDir: config.cassetteDir,
    metrics,
    cassettes,
  };

  // Replay modes read the default cassette now, so the first request does not pay for it and a
  // broken cassette shows in the log at start.
  if (MODE_POLICY[config.mode].replay) replayCassettes.table(defaultFile).catch(() => undefined);

  const server = http.createServer(
    {
      noDelay: true,
      headersTimeout: config.headersTimeoutMs,
      // Uploads (audio, images) may be slow; only the headers are hurried.
      requestTimeout: 0,
      connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs / 2),
    },
    handle,
  );
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => answerClientError(err, socket, log));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    server,
    store,
    metrics,
    get defaultCassette() {
      return state.file;
    },
    cassettes,
    async close(graceMs = 0) {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight > 0) {
        const allDone = new Promise<void>((resolve) => (drained = resolve));
        const cut = await Promise.race([allDone.then(() => false), sleep(graceMs, true, { ref: false })]);
        if (cut) log.warn({ inFlight, graceMs }, 'shutdown grace period over: cutting the exchanges still open (they are not saved)');
      }
      server.closeAllConnections();
      await closed;
      await store.close();
      forwarder.close();
      const summary = cassettes();
      const unsaved = summary.reduce((sum, row) => sum + row.unsaved, 0);
      if (unsaved > 0) log.error({ cassettes: summary, unsaved }, `cassette summary: ${unsaved} recorded interactions could not be saved (see unsaved and last_save_error)`);
      else log.info({ cassettes: summary }, 'cassette summary');
      return summary;
    },
  };
}

/** The cassette name a request gives in `x-cassette` (never forwarded upstream), if it gives one. */
function cassetteNameOf(req: IncomingMessage): string | undefined {
  const name = req.headers[CASSETTE_HEADER];
  if (name === undefined) return undefined;
  delete req.headers[CASSETTE_HEADER];
  return nameFromHeader(Array.isArray(name) ? name.join(',') : name);
}

/**
 * Bad HTTP from a client (malformed, too slow to send headers) never reaches a handler: answer it
 * in OpenAI's shape on the raw socket and close that connection only.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex, log: Logger): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  const [status, text] = timeout ? [408, 'Request Timeout'] : err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large'] : [400, 'Bad Request'];
  const message = timeout ? 'the request headers did not arrive in time (--headers-timeout)' : `malformed HTTP request: ${err.message}`;
  const body = JSON.stringify({ error: { message, type: 'invalid_request_error', code: timeout ? 'request_timeout' : 'bad_request', param: null } });
  log.warn({ code: err.code, status }, 'bad request from client');
  socket.end(`HTTP/1.1 ${status} ${text}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-should-retry: false\r\nconnection: close\r\n\r\n${body}`);
}

/** The path without its query: queries may carry credentials, and logs never do. */
function pathOf(url: string): string {
  const end = url.indexOf('?');
  return end === -1 ? url : url.slice(0, end);
}
