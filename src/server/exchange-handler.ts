/**
 * The request listener: refuses what a browser page may have forged, hands the admin API its
 * requests, and makes every other request an Exchange (its upstream, its cassette), runs it through
 * the pipeline, answers its failure, and logs it once it is over. It runs inside the HTTP parser's
 * callbacks, where a throw would end the process: none escapes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BrowserGuard } from '../admin/browser-guard.js';
import { ADMIN_PREFIX, handleAdmin, type AdminContext } from '../admin/routes.js';
import type { CassetteNames } from '../storage/names.js';
import { asProxyError, describeCause } from '../errors.js';
import { Exchange } from '../exchange/exchange.js';
import { sendError } from '../http/respond.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { pathForLog } from '../redact/secrets.js';
import type { AdminState } from './admin-state.js';
import { logExchange } from './exchange-log.js';
import type { InFlight } from './lifecycle.js';
import { requestedCassette } from './naming.js';
import type { Pipeline } from './pipeline.js';
import { refusal, trackResponse } from './refusals.js';
import type { UpstreamRouter } from './upstreams.js';

export interface HandlerParts {
  browserGuard: BrowserGuard;
  admin: AdminContext;
  state: AdminState;
  names: CassetteNames;
  router: UpstreamRouter;
  pipeline: Pipeline;
  inFlight: InFlight;
  log: Logger;
  metrics: Metrics;
}

export class ExchangeHandler {
  constructor(private readonly parts: HandlerParts) {}

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const { browserGuard, admin, state, names, router, pipeline, inFlight, log, metrics } = this.parts;
    trackResponse(req, res);
    // The admin API is the proxy's own, whatever follows it: no upstream prefix is taken off it.
    const toAdmin = req.url?.startsWith(ADMIN_PREFIX) === true;
    const upstream = toAdmin ? router.primary : router.route(req);
    const errors = upstream.profile;
    // Before anything else, admin API included: a page in a browser must not read or change a thing.
    const forged = browserGuard.checkRequest((name) => req.headers[name]);
    if (forged) {
      log.warn({ method: req.method, path: pathForLog(req.url), code: forged.code }, forged.message);
      metrics.refused.inc({ code: forged.code });
      sendError(res, forged, errors);
      return;
    }
    if (toAdmin) {
      void handleAdmin(req, res, admin);
      return;
    }
    inFlight.begin();
    if (inFlight.closing) res.setHeader('connection', 'close');
    const exchange = new Exchange(req, res, state.mode, upstream, state.file);
    // Never rejects: a failure is answered (or, once the head is out, the connection cut) by sendError.
    let handled: Promise<void> = Promise.resolve();
    res.once('close', () => {
      // A response that finished waits for its handler: the copy of a decoded body may become
      // whole after the client's last byte, and only then is the exchange recorded.
      void (res.writableFinished ? handled : Promise.resolve())
        .then(() => logExchange(exchange, log, metrics))
        .catch((err: unknown) => log.error({ err: describeCause(err) }, 'could not log an exchange'))
        .finally(() => inFlight.end());
    });
    try {
      const refused = refusal(req);
      if (refused) return sendError(res, refused, errors);
      const name = requestedCassette(req) ?? state.cassette;
      // The name's real path, checked before anything is forwarded, is the cassette's one identity.
      handled = names
        .resolve(name)
        .then((file) => {
          exchange.file = file;
          return pipeline.run(exchange);
        })
        .catch((err: unknown) => sendError(res, asProxyError(err), errors));
    } catch (err) {
      sendError(res, asProxyError(err), errors);
    }
  };
}
