/** One log line and one metric per exchange, when it is over: how it ended, where it went, how long it took. */
import { displayPath } from '../storage/names.js';
import type { Exchange } from '../exchange/exchange.js';
import { ownError } from '../http/respond.js';
import type { Logger } from '../log.js';
import type { Metrics, Outcome } from '../metrics.js';
import { pathForLog } from '../redact/secrets.js';

export function logExchange(exchange: Exchange, log: Logger, metrics: Metrics): void {
  const { req, res } = exchange;
  const error = ownError(res);
  // An answer the proxy replaced with an error, or one that never went out whole, is a failure whatever the stages said.
  const outcome: Outcome = error || !res.writableFinished ? (exchange.outcome === 'miss' ? 'miss' : 'error') : (exchange.outcome ?? 'forwarded');
  metrics.countExchange(exchange.mode, outcome, exchange.upstream.name);
  const { nearest } = exchange;
  const warn = outcome === 'error' || outcome === 'miss' || nearest !== undefined;
  // At --log-level warn an exchange that went well logs nothing: its line is not built either.
  if (!warn && !log.isLevelEnabled('info')) return;
  const line = {
    method: req.method,
    path: pathForLog(req.url),
    mode: exchange.mode,
    outcome,
    status: res.statusCode,
    duration_ms: Math.round((performance.now() - exchange.started) * 10) / 10,
    cassette: displayPath(exchange.file),
    upstream: exchange.upstream.name,
    ...(error && { error: error.code, detail: error.message }),
    ...(exchange.fault !== undefined && { fault: exchange.fault }),
    ...(nearest && { nearest: { interaction: nearest.interaction.id, diffs: nearest.differences.length, differences: nearest.differences } }),
  };
  if (outcome === 'error' || outcome === 'miss') log.warn(line, outcome === 'miss' ? 'no recording matches' : 'exchange failed');
  else if (nearest) log.warn(line, 'no recording matches: answered with the nearest');
  else log.info(line, 'exchange');
}
