/**
 * The composition root: the listener, routing of each request, and the wiring of forwarding,
 * capture, redaction and storage. The only module that knows all the others.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cassettePath } from '../cassette/names.js';
import { CassetteStore } from '../cassette/store.js';
import type { Config } from '../config.js';
import { asProxyError, describeCause, sendError } from '../errors.js';
import { Forwarder } from '../forward/forwarder.js';
import type { Logger } from '../log.js';
import { RequestViewer } from '../match/request-view.js';
import { MODE_POLICY } from '../mode.js';
import { toInteraction, type CapturedExchange } from '../record/capture.js';
import { Redactor } from '../redact/redactor.js';
import { ReplayCassettes } from '../replay/cassettes.js';
import { Replayer } from '../replay/replayer.js';

export const CASSETTE_HEADER = 'x-cassette';

export interface RunningProxy {
  /** Base URL the proxy listens on, e.g. http://127.0.0.1:8080 */
  url: string;
  server: http.Server;
  store: CassetteStore;
  /** The file that requests without `x-cassette` use. */
  defaultCassette: string;
  /** Stops accepting, waits for saves to finish, and releases the upstream connections. */
  close(): Promise<void>;
}

export async function startProxy(config: Config, log: Logger): Promise<RunningProxy> {
  const defaultCassette = cassettePath(config.cassetteDir, config.cassette);
  const forwarder = new Forwarder({ upstream: config.upstream }, log);
  const redactor = new Redactor(config.redactHeaders);
  const store = new CassetteStore(log);
  const viewer = new RequestViewer({ ignore: config.matchIgnore, headers: config.matchHeaders });
  const replayer = new Replayer(new ReplayCassettes(viewer, config.replayPolicy, log), viewer, {
    pacing: { latency: config.replayLatency, speed: config.replaySpeed },
    maxBody: config.maxBody,
    upstream: config.upstream,
  }, log);
  const policy = MODE_POLICY[config.mode];

  const record = (file: string, exchange: CapturedExchange): void => {
    let interaction;
    try {
      interaction = redactor.redact(toInteraction(exchange));
    } catch (err) {
      log.error({ err: describeCause(err), cassette: file }, 'could not turn the exchange into an interaction; it is not saved');
      return;
    }
    // The store logs a failed save itself and keeps the interaction for the next save.
    store.file(file).add(interaction).catch(() => undefined);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    let file: string;
    try {
      file = cassetteFor(req, config.cassetteDir, defaultCassette);
    } catch (err) {
      sendError(res, asProxyError(err));
      return;
    }
    if (policy.replay) {
      replayer.replay(req, res, file).catch((err: unknown) => sendError(res, asProxyError(err)));
      return;
    }
    forwarder.forward(req, res, (exchange) => record(file, exchange));
  };

  const server = http.createServer({ noDelay: true }, handle);
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
    defaultCassette,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await store.flushAll();
      forwarder.close();
    },
  };
}

/** The cassette a request names in `x-cassette` (never forwarded upstream), or the default. */
function cassetteFor(req: IncomingMessage, dir: string, fallback: string): string {
  const name = req.headers[CASSETTE_HEADER];
  if (name === undefined) return fallback;
  delete req.headers[CASSETTE_HEADER];
  return cassettePath(dir, Array.isArray(name) ? name.join(',') : name);
}
