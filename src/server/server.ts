/**
 * The composition root: builds each part from the config, registers the features at the hook
 * points, wires the parts together and listens. The only module that knows all the others; each
 * part it builds (server/*.ts) has one job and its own state.
 */
import http from 'node:http';
import { stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { BrowserGuard } from '../admin/browser-guard.js';
import type { AdminContext, CassetteSummary, ModeChange } from '../admin/routes.js';
import { CassetteNames } from '../storage/names.js';
import { FsStorage } from '../storage/fs.js';
import { CassetteStore } from '../storage/store.js';
import type { Config } from '../config.js';
import { Hooks, type Feature } from '../exchange/hooks.js';
import { FaultInjection } from '../faults/injection.js';
import { Forwarder } from '../forward/forwarder.js';
import { upstreamKeys, upstreamKeysFromEnv } from '../forward/upstream-key.js';
import type { Logger } from '../log.js';
import { BUILTIN_IGNORE, normalization } from '../match/normalize.js';
import { RequestViewer } from '../match/request-view.js';
import { Metrics } from '../metrics.js';
import { MODE_POLICY, type Mode } from '../mode.js';
import { Recorder } from '../record/recorder.js';
import { redaction } from '../redact/redaction.js';
import { holdsBareMarker, withBareMarkers } from '../redact/marker.js';
import { Redactor } from '../redact/redactor.js';
import { ReplayCassettes } from '../replay/cassettes.js';
import { Replayer } from '../replay/replayer.js';
import { AdminState } from './admin-state.js';
import { ExchangeHandler } from './exchange-handler.js';
import { InFlight, shutdown } from './lifecycle.js';
import { Pipeline } from './pipeline.js';
import { answerClientError, refuseConnect } from './refusals.js';
import { UpstreamRouter } from './upstreams.js';
import { WebSocketSessions } from './websocket.js';
import { Usage } from './usage.js';

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

/**
 * `features`: hooks registered on top of the built-in ones (exchange/hooks.ts), after
 * --match-normalize and fault injection, and before redaction, which always runs last.
 */
export async function startProxy(config: Config, log: Logger, metrics = new Metrics(), features: readonly Feature[] = []): Promise<RunningProxy> {
  const faults = new FaultInjection({ rules: config.faults, replayRetryAfter: config.replayRetryAfter, upstreamTimeoutMs: config.upstreamTimeoutMs }, metrics);
  const { keys, unset } = upstreamKeysFromEnv(config.upstreams);
  // Named, never valued: a mode switched to forwarding sends these upstreams the app's own key.
  if (unset.length > 0) log.warn({ upstreamKeys: unset }, 'the variables of these --upstream-key settings are not set: requests forwarded to them carry the key the app sent');
  const hooks = new Hooks([
    normalization(config.matchNormalize),
    faults.feature,
    ...features,
    ...(keys.size > 0 ? [upstreamKeys(keys)] : []),
    redaction(new Redactor({ headers: config.redactHeaders, bodyFields: config.redactBodyFields, key: config.redactKey })),
  ]);
  const storage = new FsStorage();
  const store = new CassetteStore(storage, log, {
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
    prepare: hooks.beforeMatch,
    bareMarkers: { holds: holdsBareMarker, bare: withBareMarkers },
  });
  const replayCassettes = new ReplayCassettes(storage, viewer, config.replayPolicy, log);
  const forwarder = new Forwarder({ maxBody: config.maxBody, upstreamTimeoutMs: config.upstreamTimeoutMs }, hooks, log, metrics);
  const replayer = new Replayer(replayCassettes, viewer);
  const recorder = new Recorder(store, hooks, log);
  const pipeline = new Pipeline(config, replayer, forwarder, recorder, hooks, metrics);
  const router = new UpstreamRouter(config);
  const state = new AdminState(config, names, replayCassettes, log);
  const usage = new Usage(replayCassettes, store);
  const browserGuard = new BrowserGuard({ host: config.host, allowedHosts: config.allowedHosts });
  const admin: AdminContext = {
    current: () => state.current(),
    switchTo: (change) => state.switchTo(change),
    rewind: (cassette) => state.rewind(cassette),
    lockMode: config.lockMode,
    adminToken: config.adminToken,
    browserGuard,
    cassetteDir: config.cassetteDir,
    metrics,
    cassettes: () => usage.cassettes(),
    errors: router.primary.profile,
    faults,
  };
  const inFlight = new InFlight();
  const handler = new ExchangeHandler({ browserGuard, admin, state, names, router, pipeline, inFlight, log, metrics });
  const sessions = new WebSocketSessions({ config, browserGuard, state, names, router, replayer, recorder, hooks, inFlight, log, metrics });

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
    handler.handle,
  );
  const errors = router.primary.profile;
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => answerClientError(err, socket, log, errors));
  server.on('connect', (_req: http.IncomingMessage, socket: Duplex) => refuseConnect(socket, log, errors));
  server.on('upgrade', sessions.handle);
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
    cassettes: admin.cassettes,
    current: admin.current,
    switchTo: admin.switchTo,
    rewind: admin.rewind,
    close: (graceMs = 0) => shutdown({ server, inFlight, store, forwarder, usage, log, sessions }, graceMs),
  };
}
