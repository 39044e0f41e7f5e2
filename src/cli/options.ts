/**
 * The command line: one yargs table of flags, each also read from CASSETTE_PROXY_<FLAG>.
 * A bad value becomes a UsageError that names the flag; main turns it into exit status 2.
 */
import yargs from 'yargs';
import { cassettePath } from '../cassette/names.js';
import { MODES, parseUpstream, type Config, type Mode } from '../config.js';
import { ProxyError } from '../errors.js';
import { LOG_LEVELS, type LogLevel } from '../log.js';

export const ENV_PREFIX = 'CASSETTE_PROXY';

export class UsageError extends Error {
  override name = 'UsageError';
}

/** `--port (CASSETTE_PROXY_PORT)`: how a message names a flag, since either may have set it. */
function flag(name: string): string {
  return `--${name} (${ENV_PREFIX}_${name.toUpperCase().replaceAll('-', '_')})`;
}

function bad(name: string, problem: string): never {
  throw new UsageError(`${flag(name)}: ${problem}`);
}

/** Repeatable flags also accept a comma-separated list, which is how an env variable gives several. */
function list(values: unknown): string[] {
  const items = Array.isArray(values) ? values : values === undefined ? [] : [values];
  return items.flatMap((v) => String(v).split(',')).map((v) => v.trim()).filter(Boolean);
}

function buildParser(argv: string[]) {
  return yargs(argv)
    .scriptName('cassette-proxy')
    .usage('$0 [options]\n\nA recording reverse proxy for the OpenAI API that writes go-vcr cassettes.\nEvery flag can also be set as CASSETTE_PROXY_<FLAG>, e.g. CASSETTE_PROXY_UPSTREAM.')
    .env(ENV_PREFIX)
    .options({
      mode: { type: 'string', default: 'record', describe: `Starting mode: ${MODES.join(', ')}` },
      upstream: { type: 'string', default: 'https://api.openai.com', describe: 'Base URL requests are forwarded to' },
      host: { type: 'string', default: '127.0.0.1', describe: 'Address to listen on (0.0.0.0 in a container)' },
      port: { type: 'string', default: '8080', describe: 'Port to listen on (0 picks a free one)' },
      'cassette-dir': { type: 'string', default: './cassettes', describe: 'Folder that holds the cassettes' },
      cassette: { type: 'string', default: 'default', describe: 'Cassette for requests without an x-cassette header: <cassette-dir>/<name>.yaml' },
      'redact-header': { type: 'string', array: true, default: [] as string[], describe: 'Header to redact in cassettes, on top of the built-in list (repeatable)' },
      'log-level': { type: 'string', default: 'info', describe: `Log level: ${LOG_LEVELS.join(', ')}` },
    })
    .strict()
    .help()
    .version(false)
    .wrap(Math.min(110, process.stdout.columns || 110))
    .fail((message, err) => {
      throw err instanceof UsageError ? err : new UsageError(message || err?.message || 'invalid arguments');
    });
}

/** Parses argv (and CASSETTE_PROXY_* variables) into a Config; throws UsageError on a bad value. */
export function parseConfig(argv: string[]): Config {
  const parser = buildParser(argv);
  // --help prints the table and exits 0 inside parseSync.
  const args = parser.parseSync();

  const mode = args.mode as Mode;
  if (!MODES.includes(mode)) bad('mode', `must be one of ${MODES.join(', ')}, got "${args.mode}"`);
  const upstream = parseUpstream(args.upstream);
  if (typeof upstream === 'string') bad('upstream', upstream);
  const port = Number(args.port);
  if (!/^\d+$/.test(args.port) || port > 65535) bad('port', `must be an integer from 0 to 65535, got "${args.port}"`);
  if (!args.host) bad('host', 'must not be empty');
  const logLevel = args['log-level'] as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) bad('log-level', `must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  try {
    cassettePath(args['cassette-dir'], args.cassette);
  } catch (err) {
    bad('cassette', err instanceof ProxyError ? err.message : String(err));
  }
  const redactHeaders = list(args['redact-header']);
  for (const name of redactHeaders) if (!/^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/.test(name)) bad('redact-header', `"${name}" is not a header name`);

  return {
    mode,
    upstream,
    host: args.host,
    port,
    cassetteDir: args['cassette-dir'],
    cassette: args.cassette,
    redactHeaders,
    logLevel,
  };
}
