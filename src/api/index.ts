/**
 * The library: `import { startProxy } from 'cassette-proxy'` starts the same proxy the command
 * runs, in the caller's process, for a test suite's global setup. Options are the flags in
 * camelCase with the command's defaults (CASSETTE_PROXY_* variables are not read: a library takes
 * what it is given); a bad one throws a UsageError naming the option.
 */
import { checkChange, type CassetteSummary, type ModeChange } from '../admin/routes.js';
import { UsageError, FLAGS, camelCase, configFrom, nearest, type FlagValues } from '../cli/options.js';
import { ProxyError } from '../errors.js';
import { createLogger, type LogLevel } from '../log.js';
import { Metrics } from '../metrics.js';
import type { Mode, OnMiss, ReplayLatency, ReplayPolicy } from '../mode.js';
import { startProxy as startServer, type RunningProxy } from '../server/server.js';

export { ProxyError } from '../errors.js';
export { UsageError } from '../cli/usage-error.js';
export type { CassetteSummary, ModeChange } from '../admin/routes.js';
export type { ErrorCode } from '../errors.js';
export type { LogLevel } from '../log.js';
export type { Mode, OnMiss, ReplayLatency, ReplayPolicy } from '../mode.js';

/** The command's flags in camelCase (see `cassette-proxy --help`); each defaults as the flag does. */
export interface ProxyOptions {
  mode?: Mode;
  /** A URL (the default upstream), or several: `NAME=URL` for each named one. */
  upstream?: string | URL | (string | URL)[];
  /** `NAME=KIND` (or a plain KIND for the default upstream): the provider an upstream speaks when its host does not tell. */
  provider?: string[];
  /** `NAME=ENV_VAR` (or a plain ENV_VAR for the default upstream): the variable holding the key the proxy sends that upstream. */
  upstreamKey?: string[];
  host?: string;
  allowedHost?: string[];
  /** 0 picks a free port (the returned `url` says which); the default is 8080, as for the command. */
  port?: number;
  cassetteDir?: string;
  cassette?: string;
  redactHeader?: string[];
  redactBodyField?: string[];
  /** Secret key of the digests that redacted values become (at least 16 characters); record and replay need the same one. */
  redactKey?: string;
  replayPolicy?: ReplayPolicy;
  replayLatency?: ReplayLatency;
  replaySpeed?: number;
  /** Replay mode: `'nearest'` answers a miss with its nearest recording (within `nearestMaxDiffs`). */
  onMiss?: OnMiss;
  nearestMaxDiffs?: number;
  matchIgnore?: string[];
  matchHeader?: string[];
  /** JavaScript regular expressions (source text); every match in a request's strings becomes one placeholder before matching. */
  matchNormalize?: string[];
  /** Default true: leave `user`, `safety_identifier`, `prompt_cache_key`, ... out of matching (see docs/matching.md). */
  matchBuiltinIgnore?: boolean;
  maxBody?: number;
  /** Seconds. */
  upstreamTimeout?: number;
  /** Seconds. */
  headersTimeout?: number;
  lockMode?: boolean;
  adminToken?: string;
  /** Seconds that exchanges in flight get to finish when `close()` is called. */
  shutdownGrace?: number;
  logLevel?: LogLevel;
  /** WebSocket audio payloads in cassettes: `'full'` (default) or `'digest'`. */
  wsAudio?: 'full' | 'digest';
  /** Seconds. */
  wsIdleTimeout?: number;
  /** A JSON file of fault rules applied from the start (see docs/faults.md). */
  faults?: string;
  /** Seconds that replayed answers and injected rate-limit faults give in retry-after. */
  replayRetryAfter?: number;
}

/** Kebab-case flag names to camelCase, so that the compiler checks ProxyOptions against the flag table. */
type CamelCase<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;
type FlagOptionNames = CamelCase<keyof typeof FLAGS & string>;
// Both directions: an option without a flag, or a flag without an option, fails to compile.
const sameNames: [Exclude<FlagOptionNames, keyof ProxyOptions>, Exclude<keyof ProxyOptions, FlagOptionNames>] extends [never, never] ? true : false = true;
void sameNames;

export interface CassetteProxy extends AsyncDisposable {
  /** Where the proxy listens, e.g. `http://127.0.0.1:43123`; an OpenAI SDK's base URL is this plus `/v1`. */
  readonly url: string;
  /** The mode and default cassette now. */
  mode(): { mode: Mode; cassette: string };
  /** Switches the mode and/or the default cassette (refused under `lockMode`, or for a name `x-cassette` could not use). */
  setMode(change: ModeChange): Promise<{ mode: Mode; cassette: string }>;
  /**
   * Replay positions back to the start, of one cassette (by name) or of every one, so the next run
   * of a suite gets the same answers in the same order (allowed under `lockMode`). Answers the
   * cassette files rewound.
   */
  rewind(cassette?: string): Promise<string[]>;
  /** Each cassette in use with its counts, as `GET /_proxy/cassettes` answers. */
  usage(): CassetteSummary[];
  /**
   * Stops the proxy: lets exchanges in flight finish (up to `shutdownGrace`), then saves what is
   * pending. Rejects with a `recordings_unsaved` ProxyError naming the cassettes when recorded
   * interactions could not be saved, so a suite's teardown fails as loudly as the command's exit 1.
   */
  close(): Promise<void>;
}

export async function startProxy(options: ProxyOptions = {}): Promise<CassetteProxy> {
  const config = configFromOptions(options);
  const proxy: RunningProxy = await startServer(config, createLogger(config.logLevel), new Metrics());
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= proxy.close(config.shutdownGraceMs).then((summary) => {
      const unsaved = summary.filter((row) => row.unsaved > 0);
      if (unsaved.length === 0) return;
      const which = unsaved.map((row) => `${row.cassette}: ${row.unsaved} (${row.last_save_error ?? 'no error recorded'})`).join('; ');
      throw new ProxyError('recordings_unsaved', `cassette-proxy could not save every recorded interaction: ${which}`);
    }));
  return {
    url: proxy.url,
    mode: () => proxy.current(),
    async setMode(change) {
      if (config.lockMode) throw new ProxyError('mode_locked', 'the mode is locked (lockMode): start another proxy to change it');
      await proxy.switchTo(checkChange(change, config.cassetteDir));
      return proxy.current();
    },
    rewind: (cassette) => proxy.rewind(cassette),
    usage: () => proxy.cassettes(),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Options → the flag values the command would have parsed → the same checks as the command. */
function configFromOptions(options: ProxyOptions): ReturnType<typeof configFrom> {
  const byOption = new Map(Object.keys(FLAGS).map((flag) => [camelCase(flag), flag as keyof typeof FLAGS]));
  const values: Record<string, unknown> = Object.fromEntries(Object.entries(FLAGS).map(([flag, spec]) => [flag, 'default' in spec ? spec.default : undefined]));
  for (const [name, value] of Object.entries(options)) {
    const flag = byOption.get(name);
    if (!flag) {
      const near = nearest(name, [...byOption.keys()]);
      throw new UsageError(`cassette-proxy: unknown option ${name}${near ? ` (did you mean ${near}?)` : ''}`);
    }
    if (value === undefined) continue;
    const spec = FLAGS[flag] as { type: string; array?: boolean };
    if (spec.type === 'boolean' && typeof value !== 'boolean') throw new UsageError(`cassette-proxy: option ${name}: must be true or false, got ${JSON.stringify(value)}`, flag);
    values[flag] = spec.array ? (Array.isArray(value) ? value.map(String) : [String(value)]) : spec.type === 'boolean' ? value : value instanceof URL ? value.href : String(value);
  }
  try {
    return configFrom(values as FlagValues);
  } catch (err) {
    if (err instanceof UsageError && err.flag) throw new UsageError(`cassette-proxy: option ${camelCase(err.flag)}: ${err.problem}`, err.flag, err.problem);
    throw err;
  }
}
