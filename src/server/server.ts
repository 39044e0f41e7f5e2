/**
 * The composition root: the listener, the routing of each request through the mode's policy,
 * the admin API, one log line and one metric per exchange, and the drain at shutdown. The only
 * module that knows all the others.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { BrowserGuard } from '../admin/browser-guard.js';
import { ADMIN_PREFIX, handleAdmin, type CassetteSummary, type ModeChange } from '../admin/routes.js';
import { requestPath } from '../cassette/describe.js';
import { CassetteNames, cassettePath, displayPath, nameFromHeader } from '../cassette/names.js';
import { CassetteStore } from '../cassette/store.js';
import type { Interaction } from '../cassette/types.js';
import type { Config } from '../config.js';
import { ProxyError, asProxyError, describeCause, errorResponseBytes, ownError, sendError } from '../errors.js';
import { Forwarder } from '../forward/forwarder.js';
import type { Logger } from '../log.js';
import { BUILTIN_IGNORE } from '../match/normalize.js';
import { RequestViewer } from '../match/request-view.js';
import type { MatchTable } from '../match/table.js';
import { Metrics, type Outcome } from '../metrics.js';
import { MODE_POLICY, type Mode } from '../mode.js';
import { bodyTooLarge, readBody } from '../read-body.js';
import { toInteraction, type CapturedExchange } from '../record/capture.js';
import { holdsBareMarker, withBareMarkers } from '../redact/marker.js';
import { Redactor } from '../redact/redactor.js';
import { credentialInName, pathForLog } from '../redact/secrets.js';
import { ReplayCassettes } from '../replay/cassettes.js';
import { Replayer, type NearAnswer } from '../replay/replayer.js';
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
  /** The mode and default cassette now (as GET /_proxy/mode shows). */
  current(): { mode: Mode; cassette: string };
  /** Switches the mode and/or the default cassette, as PUT /_proxy/mode does once it was checked and allowed. */
  switchTo(change: ModeChange): Promise<void>;
  /** Rewinds replay positions, as POST /_proxy/rewind does: of one cassette (by name) or of all. */
  rewind(cassette?: string): Promise<string[]>;
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
  /** A miss answered by its nearest recording (--on-miss nearest): logged at warn with what differs. */
  nearest?: NearAnswer;
}

export async function startProxy(config: Config, log: Logger, metrics = new Metrics()): Promise<RunningProxy> {
  const state = { mode: config.mode, cassette: config.cassette, file: cassettePath(config.cassetteDir, config.cassette) };
  const forwarder = new Forwarder({ upstream: config.upstream, maxBody: config.maxBody, upstreamTimeoutMs: config.upstreamTimeoutMs }, log, metrics);
  const redactor = new Redactor({ headers: config.redactHeaders, bodyFields: config.redactBodyFields, key: config.redactKey });
  const store = new CassetteStore(log, {
    saved: () => metrics.saves.inc(),
    failed: () => metrics.saveFailures.inc(),
    leaseConflict: (event) => metrics.leaseConflicts.inc({ event }),
  });
  const names = new CassetteNames(config.cassetteDir);
  // A default cassette that a symbolic link takes outside the folder stops the start.
  const defaultFile = await names.resolve(config.cassette);
  const viewer = new RequestViewer({
    ignore: config.matchBuiltinIgnore ? [...BUILTIN_IGNORE, ...config.matchIgnore] : config.matchIgnore,
    headers: config.matchHeaders,
    normalize: config.matchNormalize,
    redact: (request) => redactor.redactRequest(request),
    bareMarkers: { holds: holdsBareMarker, bare: withBareMarkers },
  });
  const replayCassettes = new ReplayCassettes(viewer, config.replayPolicy, log);
  const replayer = new Replayer(replayCassettes, viewer, config.upstream);
  const pacing = { latency: config.replayLatency, speed: config.replaySpeed };
  const browserGuard = new BrowserGuard({ host: config.host, allowedHosts: config.allowedHosts });

  /** Hands a completed exchange to the store; false when it could not be turned into an interaction. */
  const record = (file: string, exchange: CapturedExchange): boolean => {
    try {
      // The store logs and counts a failed save itself, and keeps the interaction for the next save.
      store.file(file).add(redactor.redact(toInteraction(exchange))).catch(() => undefined);
      return true;
    } catch (err) {
      log.error({ err: describeCause(err), cassette: displayPath(file) }, 'could not turn the exchange into an interaction; it is not saved');
      store.file(file).notRecorded(err);
      return false;
    }
  };

  /** Replay first (when the mode says so), then forward (when it says so), recording if it says so. */
  const proxyRequest = async (req: IncomingMessage, res: ServerResponse, file: string, entry: ExchangeLog): Promise<void> => {
    const policy = MODE_POLICY[entry.mode];
    const declared = Number(req.headers['content-length']);
    if (declared > config.maxBody) throw bodyTooLarge(config.maxBody);
    // `recorded` means exactly this: the forwarder captured a completed exchange and the store took it.
    const capture = policy.record
      ? (exchange: CapturedExchange) => {
          if (record(file, exchange)) entry.outcome = 'recorded';
        }
      : undefined;
    const forward = async (body?: Buffer): Promise<void> => {
      // One writer per cassette: one that another process records into is refused before anything is forwarded.
      if (policy.record) await store.claim(file);
      return forwarder.forward(req, res, { capture, body });
    };
    if (!policy.replay) return forward();

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
      return sendRecorded(res, found.interaction, pacing, 'exact', () => metrics.streamOpened());
    }
    if (policy.forward) return forward(body);
    const near = config.onMiss === 'nearest' ? found!.nearest(config.nearestMaxDiffs) : undefined;
    if (near) {
      entry.outcome = 'replayed';
      entry.nearest = near;
      metrics.nearestAnswers.inc();
      const match = `nearest; interaction=${near.interaction.id}; diffs=${near.differences.length}`;
      return sendRecorded(res, near.interaction, pacing, match, () => metrics.streamOpened());
    }
    entry.outcome = 'miss';
    throw found!.error(); // its explanation goes out once, in the exchange's log line
  };

  let inFlight = 0;
  let closing = false;
  let drained: (() => void) | undefined;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    (req.socket as TrackedSocket)[LAST_RESPONSE] = res;
    // Before anything else, admin API included: a page in a browser must not read or change a thing.
    const forged = browserGuard.checkRequest((name) => req.headers[name]);
    if (forged) {
      log.warn({ method: req.method, path: pathForLog(req.url), code: forged.code }, forged.message);
      metrics.refused.inc({ code: forged.code });
      sendError(res, forged);
      return;
    }
    if (req.url?.startsWith(ADMIN_PREFIX)) {
      void handleAdmin(req, res, admin);
      return;
    }
    inFlight++;
    if (closing) res.setHeader('connection', 'close');
    const entry: ExchangeLog = { mode: state.mode, cassette: displayPath(state.file), started: performance.now() };
    // Never rejects: a failure is answered (or, once the head is out, the connection cut) by sendError.
    let handled: Promise<void> = Promise.resolve();
    res.once('close', () => {
      // A response that finished waits for its handler: the copy of a decoded body may become
      // whole after the client's last byte, and only then is the exchange recorded.
      void (res.writableFinished ? handled : Promise.resolve())
        .then(() => finish(req, res, entry))
        .catch((err: unknown) => log.error({ err: describeCause(err) }, 'could not log an exchange'))
        .finally(() => {
          if (--inFlight === 0) drained?.();
        });
    });
    // Runs inside the HTTP parser's callbacks: a throw here would end the process, so none escapes.
    try {
      const refused = refusal(req);
      if (refused) return sendError(res, refused);
      const name = cassetteNameOf(req) ?? state.cassette;
      // The name's real path, checked before anything is forwarded, is the cassette's one identity.
      handled = names
        .resolve(name)
        .then((file) => {
          entry.cassette = displayPath(file);
          return proxyRequest(req, res, file, entry);
        })
        .catch((err: unknown) => sendError(res, asProxyError(err)));
    } catch (err) {
      sendError(res, asProxyError(err));
    }
  };

  const finish = (req: IncomingMessage, res: ServerResponse, entry: ExchangeLog): void => {
    const error = ownError(res);
    const outcome: Outcome = error || !res.writableFinished ? (entry.outcome === 'miss' ? 'miss' : 'error') : (entry.outcome ?? 'forwarded');
    metrics.countExchange(entry.mode, outcome);
    const line = {
      method: req.method,
      path: pathForLog(req.url),
      mode: entry.mode,
      outcome,
      status: res.statusCode,
      duration_ms: Math.round((performance.now() - entry.started) * 10) / 10,
      cassette: entry.cassette,
      ...(error && { error: error.code, detail: error.message }),
      ...(entry.nearest && { nearest: { interaction: entry.nearest.interaction.id, diffs: entry.nearest.differences.length, differences: entry.nearest.differences } }),
    };
    if (outcome === 'error' || outcome === 'miss') log.warn(line, outcome === 'miss' ? 'no recording matches' : 'exchange failed');
    else if (entry.nearest) log.warn(line, 'no recording matches: answered with the nearest');
    else log.info(line, 'exchange');
  };

  /** The /_proxy/cassettes rows, each with the interactions never replayed when it was loaded for replay. */
  const usage = (): { row: CassetteSummary; neverReplayed?: Interaction[] }[] => {
    const rows = new Map<string, { row: CassetteSummary; table?: MatchTable; recordedFrom?: number }>();
    const noSaves = { unsaved: 0, save_failures: 0, last_save_error: null };
    for (const { file, table } of replayCassettes.loaded()) {
      const counts = table?.usage() ?? { interactions: 0, replayed: 0, neverReplayed: 0 };
      // Only counts that cover the whole run may name recordings as unused: prune deletes what they name.
      const complete = replayCassettes.countsComplete(file);
      rows.set(file, { row: { cassette: displayPath(file), interactions_on_disk: counts.interactions, replayed: counts.replayed, never_replayed: counts.neverReplayed, recorded_since_start: 0, ...noSaves }, ...(complete && { table }) });
    }
    for (const cassette of store.all()) {
      const { onDisk, recordedSinceStart, unsaved, saveFailures, lastSaveError } = cassette.stats();
      const entry = rows.get(cassette.file) ?? { row: { cassette: displayPath(cassette.file), interactions_on_disk: 0, replayed: 0, never_replayed: 0, recorded_since_start: 0, ...noSaves } };
      const { row } = entry;
      row.interactions_on_disk = Math.max(row.interactions_on_disk, onDisk);
      row.never_replayed = row.interactions_on_disk - row.replayed;
      Object.assign(row, { recorded_since_start: recordedSinceStart, unsaved, save_failures: saveFailures, last_save_error: lastSaveError ?? null });
      // What this process recorded went at the end of the file, and has had no chance to be replayed.
      if (entry.table && recordedSinceStart > 0) entry.recordedFrom = onDisk - recordedSinceStart;
      rows.set(cassette.file, entry);
    }
    return [...rows.values()]
      .sort((a, b) => a.row.cassette.localeCompare(b.row.cassette))
      .map(({ row, table, recordedFrom }) => ({ row, neverReplayed: table?.neverReplayed(recordedFrom) }));
  };

  const cassettes = (): CassetteSummary[] =>
    usage().map(({ row, neverReplayed }) => (neverReplayed ? { ...row, never_replayed_ids: neverReplayed.map((i) => i.id) } : row));

  const admin = {
    current: () => ({ mode: state.mode, cassette: state.cassette }),
    switchTo: async (change: { mode?: Mode; cassette?: string }) => {
      // Refused (invalid_cassette_name) before anything changes, as a request naming it would be.
      if (change.cassette !== undefined) await names.resolve(checkedName(change.cassette));
      const before = { mode: state.mode, cassette: state.cassette };
      if (change.cassette !== undefined) {
        state.file = cassettePath(config.cassetteDir, change.cassette);
        state.cassette = change.cassette;
      }
      if (change.mode !== undefined) state.mode = change.mode;
      log.info({ from: before, to: { mode: state.mode, cassette: state.cassette } }, 'mode changed');
    },
    rewind: async (cassette?: string) => {
      const file = cassette === undefined ? undefined : await names.resolve(checkedName(cassette));
      const rewound = replayCassettes.rewind(file).map(displayPath);
      log.info({ cassettes: rewound }, 'replay rewound');
      return rewound;
    },
    lockMode: config.lockMode,
    adminToken: config.adminToken,
    browserGuard,
    cassetteDir: config.cassetteDir,
    metrics,
    cassettes,
  };

  // Replay modes read the default cassette now, so the first request does not pay for it and a
  // broken cassette shows in the log at start. One that does not exist is no news at start: a suite
  // may use only x-cassette, and replay-or-record creates it.
  if (MODE_POLICY[config.mode].replay) {
    stat(defaultFile).then(
      () => replayCassettes.table(defaultFile).catch(() => undefined),
      () => undefined,
    );
  }

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
  // Node would close a CONNECT's connection without a word.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    log.warn({ method: 'CONNECT' }, 'CONNECT refused: cassette-proxy is not a forward proxy');
    answerOnSocket(socket, new ProxyError('method_not_allowed', `cassette-proxy is a reverse proxy, not a forward proxy: CONNECT is not supported. ${SEND_PATHS}`));
  });
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
    current: admin.current,
    switchTo: admin.switchTo,
    rewind: admin.rewind,
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
      const rows = usage();
      const summary = rows.map(({ row }) => row);
      const unsaved = summary.reduce((sum, row) => sum + row.unsaved, 0);
      const logged = rows.map(summaryRow);
      if (unsaved > 0) log.error({ cassettes: logged, unsaved }, `cassette summary: ${unsaved} recorded interactions could not be saved (see unsaved and last_save_error)`);
      else log.info({ cassettes: logged }, 'cassette summary');
      return summary;
    },
  };
}

/** How many never-replayed interactions a shutdown summary names per cassette: one log line stays readable. */
const SUMMARY_LISTED = 50;

/** A cassette's row in the shutdown summary: the interactions never replayed by id, method and path (the first SUMMARY_LISTED). */
function summaryRow({ row, neverReplayed }: { row: CassetteSummary; neverReplayed?: Interaction[] }): object {
  if (!neverReplayed) return row;
  const listed = neverReplayed.slice(0, SUMMARY_LISTED).map((i) => ({ id: i.id, method: i.request.method, path: requestPath(i.request.url) }));
  const rest = neverReplayed.length - listed.length;
  return { ...row, never_replayed_interactions: listed, ...(rest > 0 && { never_replayed_not_listed: rest }) };
}

/** The cassette name a request gives in `x-cassette` (never forwarded upstream), if it gives one. */
function cassetteNameOf(req: IncomingMessage): string | undefined {
  const name = req.headers[CASSETTE_HEADER];
  if (name === undefined) return undefined;
  delete req.headers[CASSETTE_HEADER];
  return checkedName(nameFromHeader(Array.isArray(name) ? name.join(',') : name));
}

/**
 * A cassette name from a client or the admin API. One shaped like a credential (a key sent in the
 * wrong header) is refused without being repeated: it would show in a file name, logs and errors.
 */
function checkedName(name: string): string {
  const problem = credentialInName(name);
  if (problem) throw new ProxyError('invalid_cassette_name', problem, { param: CASSETTE_HEADER });
  return name;
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
  if (last && last.req.complete && !last.writableFinished && !last.destroyed) last.once('close', () => answerOnSocket(socket, error));
  else answerOnSocket(socket, error);
}

/** The last response started on a connection, and whether a client fault on it was answered. */
const LAST_RESPONSE = Symbol('cassette-proxy.lastResponse');
const ANSWERED = Symbol('cassette-proxy.clientErrorAnswered');
type TrackedSocket = Duplex & { [LAST_RESPONSE]?: ServerResponse; [ANSWERED]?: boolean };

/** Answers on a socket no ServerResponse owns, then closes it: it must never hold shutdown. */
function answerOnSocket(socket: Duplex, error: ProxyError): void {
  if (socket.destroyed) return;
  socket.on('error', () => socket.destroy());
  socket.end(errorResponseBytes(error), () => socket.destroy());
}

const DOT_SEGMENT = /\/(?:\.|%2e){1,2}(?:\/|$)/i;

const SEND_PATHS = "Point the client's base URL at the proxy (http://host:port/v1) rather than using it as an HTTP proxy (HTTP_PROXY).";

/**
 * What the proxy refuses before anything else: a target that is not a path (absolute-form
 * `http://user:pass@host/…`, `*`), which no cassette could hold, and a protocol upgrade.
 */
function refusal(req: IncomingMessage): ProxyError | undefined {
  const target = req.url ?? '';
  if (!target.startsWith('/')) {
    const what = target === '*' ? '"*"' : 'an absolute URL';
    return new ProxyError('invalid_request', `the request target must be a path such as /v1/models, got ${what}. ${SEND_PATHS}`);
  }
  // A `.` or `..` segment (or its percent-encoding) would let the upstream's own normalisation
  // climb out of an --upstream path prefix, and makes one request look like another.
  if (DOT_SEGMENT.test(target.split('?', 1)[0]!)) return new ProxyError('invalid_request', 'the request path must not hold a "." or ".." segment');
  // The one place where WebSocket support will hook in: until it is recorded, an upgrade is
  // answered here, in every mode, instead of forwarded (the client would wait for a 101 forever).
  const upgrade = req.headers.upgrade;
  if (upgrade !== undefined && /(^|,)\s*upgrade\s*(,|$)/i.test(req.headers.connection ?? '')) {
    return new ProxyError(
      'upgrade_not_supported',
      `cassette-proxy does not relay protocol upgrades (Upgrade: ${JSON.stringify(upgrade)}): WebSocket traffic cannot be recorded or replayed yet. Use the HTTP API.`,
    );
  }
  return undefined;
}
