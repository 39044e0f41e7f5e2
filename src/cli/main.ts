#!/usr/bin/env node
/** Entry point of the `cassette-proxy` command. */
import { displayPath } from '../storage/names.js';
import { createLogger } from '../log.js';
import { Metrics } from '../metrics.js';
import { startProxy } from '../server/server.js';
import { COMMANDS, UsageError, parseConfig } from './options.js';

/** Each subcommand's runner, loaded (with the yargs it parses with) only when it is run. */
const COMMAND_RUNNERS: Record<(typeof COMMANDS)[number], () => Promise<(argv: string[]) => Promise<number>>> = {
  scan: async () => (await import('./scan.js')).runScan,
  redact: async () => (await import('./redact.js')).runRedact,
  inspect: async () => (await import('./inspect.js')).runInspect,
  prune: async () => (await import('./prune.js')).runPrune,
  merge: async () => (await import('./merge.js')).runMerge,
};

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const command = COMMANDS.find((name) => name === argv[0]);
  if (command) {
    try {
      process.exitCode = await (await COMMAND_RUNNERS[command]())(argv);
    } catch (err) {
      const usage = err instanceof UsageError;
      process.stderr.write(`cassette-proxy ${command}: ${err instanceof Error ? err.message : String(err)}\n${usage ? `Run cassette-proxy ${command} --help for its arguments.\n` : ''}`);
      process.exitCode = usage ? 2 : 1;
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
    `cassette-proxy ${config.mode}: upstream ${shown(config.upstream)}${config.upstreams.filter((u) => u.prefixed).map((u) => `, /${u.name}/ → ${shown(u.url)}`).join('')}, ` +
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

/** An upstream's URL as the startup line shows it: no trailing slash on a bare origin. */
function shown(url: URL): string {
  return `${url.origin}${url.pathname === '/' ? '' : url.pathname}`;
}
