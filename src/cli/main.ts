#!/usr/bin/env node
/** Entry point of the `cassette-proxy` command. */
import { displayPath } from '../cassette/names.js';
import { createLogger } from '../log.js';
import { Metrics } from '../metrics.js';
import { startProxy } from '../server/server.js';
import { UsageError, parseConfig } from './options.js';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === 'scan' || argv[0] === 'redact') {
    try {
      // The subcommands (and the yargs they parse with) are loaded only when one is run.
      process.exitCode = await (argv[0] === 'scan' ? (await import('./scan.js')).runScan(argv) : (await import('./redact.js')).runRedact(argv));
    } catch (err) {
      process.stderr.write(`cassette-proxy ${argv[0]}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = err instanceof UsageError ? 2 : 1;
    }
    return;
  }
  let config;
  try {
    config = await parseConfig(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`cassette-proxy: ${err.message}\nRun cassette-proxy --help for every flag and its default.\n`);
    process.exit(2);
  }

  const log = createLogger(config.logLevel);
  const proxy = await startProxy(config, log, new Metrics({ processMetrics: true }));
  process.stdout.write(
    `cassette-proxy ${config.mode}: upstream ${config.upstream.origin}${config.upstream.pathname === '/' ? '' : config.upstream.pathname}, ` +
      `listening on ${proxy.url}, cassette ${displayPath(proxy.defaultCassette)}\n`,
  );

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, graceMs: config.shutdownGraceMs }, 'stopping: finishing exchanges in flight, then saving');
    proxy.close(config.shutdownGraceMs).then(
      (summary) => {
        log.flush();
        // Interactions that could not be saved fail the run (the summary line says which).
        process.exit(summary.some((row) => row.unsaved > 0) ? 1 : 0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        log.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`cassette-proxy: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
