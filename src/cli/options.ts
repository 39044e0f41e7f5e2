/**
 * The command line: one yargs table of flags, each also read from CASSETTE_PROXY_<FLAG>.
 * A bad value becomes a UsageError that names the flag; main turns it into exit status 2.
 *
 * A valid command line is read by yargs-parser alone, the parser yargs itself runs, with the same
 * table. yargs is loaded only for what it adds on top (--help, and the message for an unknown flag
 * or a malformed command line): loading it costs a long-running proxy about 6 MB of resident memory
 * (its help layout loads string-width, which builds an Intl.Segmenter and Unicode property tables).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { InferredOptionTypes, Options } from 'yargs';
import yargsParser from 'yargs-parser';
import { allowedHostProblem } from '../admin/browser-guard.js';
import { redactKeyProblem } from '../redact/marker.js';
import { credentialInName } from '../redact/secrets.js';
import { HEADER_NAME } from '../cassette/go.js';
import { cassettePath } from '../storage/names.js';
import type { Config, FaultRuleSet } from '../config.js';
import { parseJsonPath, type JsonPath } from '../json-path.js';
import { MODES, MODE_POLICY, ON_MISS, REPLAY_LATENCIES, REPLAY_POLICIES, WS_AUDIO, type Mode } from '../mode.js';
import { ProxyError, describeCause } from '../errors.js';
import { checkRuleSet } from '../faults/rules.js';
import { LOG_LEVELS, type LogLevel } from '../log.js';
import { openai } from '../providers/openai.js';
import { PROFILES } from '../providers/registry.js';
import { upstreamSettings } from './upstream-options.js';
import { UsageError } from './usage-error.js';

export { UsageError } from './usage-error.js';

export const ENV_PREFIX = 'CASSETTE_PROXY';

/** 512 MiB: room for image and audio uploads, far below what would hurt the machine. */
export const DEFAULT_MAX_BODY = 512 * 1024 * 1024;

/** The variable that sets a flag: `cassette-dir` → `CASSETTE_PROXY_CASSETTE_DIR`. */
export function envName(name: string): string {
  return `${ENV_PREFIX}_${name.toUpperCase().replaceAll('-', '_')}`;
}

/** `--port (CASSETTE_PROXY_PORT)`: how a message names a flag, since either may have set it. */
function flag(name: string): string {
  return `--${name} (${envName(name)})`;
}

function bad(name: string, problem: string): never {
  throw new UsageError(`${flag(name)}: ${problem}`, name, problem);
}

/** Repeatable flags also accept a comma-separated list, which is how an env variable gives several. */
function list(values: unknown): string[] {
  const items = Array.isArray(values) ? values : values === undefined ? [] : [values];
  return items.flatMap((v) => String(v).split(',')).map((v) => v.trim()).filter(Boolean);
}

/** Node's timers take at most 2^31-1 ms (about 24 days); a longer delay would fire at once. */
export const MAX_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

export const FLAGS = {
  mode: { type: 'string', default: 'record', describe: `Starting mode: ${MODES.join(', ')}` },
  upstream: {
    type: 'string',
    array: true,
    default: openai.baseUrl,
    describe:
      'Base URL requests are forwarded to (http:// or https://, no query or fragment); its path prefixes every request path. NAME=URL adds a named upstream, reached by the path prefix /NAME/ (removed before forwarding; NAME: lower-case letters, digits and hyphens, not v1 or like it). Repeatable: at most one plain URL, the default upstream (named after its provider); without one, the first named upstream is the default',
  },
  provider: {
    type: 'string',
    array: true,
    default: [] as string[],
    describe: `NAME=KIND: the provider an upstream speaks, when its host does not tell (${PROFILES.map((p) => p.name).join(', ')}); a plain KIND is the default upstream's. Inferred otherwise: api.openai.com, *.openai.azure.com, api.anthropic.com, generativelanguage.googleapis.com; any other host is openai (repeatable)`,
  },
  'upstream-key': {
    type: 'string',
    array: true,
    default: [] as string[],
    describe:
      'NAME=ENV_VAR: the proxy reads the key for upstream NAME from that environment variable at start (it must be set) and sends it as the provider requires, replacing the key the app sent; a plain ENV_VAR is the default upstream\'s. Never logged or recorded; replay needs none (repeatable)',
  },
  host: { type: 'string', default: '127.0.0.1', describe: 'Address to listen on (0.0.0.0 in a container)' },
  'allowed-host': {
    type: 'string',
    array: true,
    default: [] as string[],
    describe: 'Another name requests may address the proxy by (repeatable; a host name or IP, no scheme or port). When listening on loopback, or when given, other Host and Origin values get 403',
  },
  port: { type: 'string', default: '8080', describe: 'Port to listen on, 0 to 65535 (0 picks a free one; the startup line says which)' },
  'cassette-dir': { type: 'string', default: './cassettes', describe: 'Folder that holds the cassettes' },
  cassette: {
    type: 'string',
    default: 'default',
    describe: 'Cassette for requests without an x-cassette header: <cassette-dir>/<name>.yaml (sub-folders with /; no .., absolute path, backslash, control character or .yaml ending; at most 200 characters)',
  },
  'redact-header': { type: 'string', array: true, default: [] as string[], describe: 'Header name to redact in cassettes, on top of the built-in list (repeatable)' },
  'redact-body-field': { type: 'string', array: true, default: [] as string[], describe: 'JSON body field to redact in cassettes, e.g. user, metadata.session or messages[*].content (repeatable)' },
  'redact-key': {
    type: 'string',
    describe:
      'Secret key (at least 16 characters) of the digests that redacted values become in cassettes; record and replay need the same one. Set it as CASSETTE_PROXY_REDACT_KEY to keep it out of the process list. Without it a public built-in key is used, so anyone can check a guessed value against a digest',
  },
  'replay-policy': { type: 'string', default: 'repeat', describe: 'Replay: strict = each recording once (go-vcr); repeat = in order, then the last one again' },
  'replay-latency': { type: 'string', default: 'none', describe: 'Replay: none = as fast as possible; recorded = recorded time to headers and gaps between SSE events' },
  'replay-speed': { type: 'string', default: '1', describe: 'Replay: divides recorded delays, a number above 0 (2 = twice as fast)' },
  'on-miss': {
    type: 'string',
    default: 'error',
    describe: 'Replay mode, a request no recording matches: error = 404 cassette_miss; nearest = the nearest recording when it differs in at most --nearest-max-diffs fields (header x-cassette-match), else the 404',
  },
  'nearest-max-diffs': { type: 'string', default: '3', describe: 'With --on-miss nearest: most differing fields a nearest answer may have, a whole number of 1 or more' },
  'match-ignore': { type: 'string', array: true, default: [] as string[], describe: 'JSON body field or form field left out of matching, e.g. user, metadata.session or messages[*].name (repeatable)' },
  'match-header': { type: 'string', array: true, default: [] as string[], describe: 'Header name that must match too (repeatable)' },
  'match-normalize': {
    type: 'string',
    array: true,
    default: [] as string[],
    describe:
      'JavaScript regular expression; every match in a JSON string value, text body or query value becomes one placeholder on both sides before matching, e.g. \\d{4}-\\d{2}-\\d{2} (repeatable; must not match the empty string; the variable splits on commas, so give a regex with a comma on the command line)',
  },
  'match-builtin-ignore': { type: 'boolean', default: true, describe: 'Leave user, safety_identifier, prompt_cache_key, prompt_cache_retention and stream_options.include_obfuscation out of matching (--no-match-builtin-ignore to match them)' },
  'max-body': { type: 'string', default: String(DEFAULT_MAX_BODY), describe: 'Largest request body, in bytes (a whole number above 0; the default is 512 MiB); a larger body gets 413' },
  'upstream-timeout': { type: 'string', default: '600', describe: `Seconds the upstream may take to send response headers, above 0 and at most ${MAX_SECONDS} (then 504); a stream may then take as long as it takes` },
  'headers-timeout': { type: 'string', default: '30', describe: `Seconds a client may take to send its request headers, above 0 and at most ${MAX_SECONDS} (then 408)` },
  'lock-mode': { type: 'boolean', default: false, describe: 'Refuse every runtime mode change (PUT /_proxy/mode gets 409 mode_locked; POST /_proxy/rewind is still allowed)' },
  'admin-token': { type: 'string', describe: 'Bearer token that runtime changes need, at least 8 characters; without it only loopback may change the mode' },
  'shutdown-grace': { type: 'string', default: '10', describe: `Seconds that exchanges in flight get to finish at SIGTERM/SIGINT, 0 or more and at most ${MAX_SECONDS}` },
  'log-level': { type: 'string', default: 'info', describe: `Log level: ${LOG_LEVELS.join(', ')}` },
  'ws-audio': {
    type: 'string',
    default: 'full',
    describe: 'WebSocket sessions: audio payloads (input_audio_buffer.append, response.output_audio.delta) in cassettes: full = kept whole; digest = length and SHA-256 only (matched by digest, replayed as silence of the recorded length)',
  },
  'ws-idle-timeout': {
    type: 'string',
    default: '30',
    describe: `Replay, WebSocket sessions: seconds the client may stay silent while the recording waits for its next frame, above 0 and at most ${MAX_SECONDS} (then an error event and close 1008)`,
  },
  faults: {
    type: 'string',
    describe: 'JSON file of fault rules applied from the start, {"rules":[{"fault":"rate-limit","rate":0.1,"path":"/v1/chat/completions"}],"seed":42} (see docs/faults.md); a file that cannot be read or holds bad rules stops the start',
  },
  'replay-retry-after': {
    type: 'string',
    describe: `Seconds, 0 or more and at most ${MAX_SECONDS}: the retry-after (and retry-after-ms) that replayed answers and injected rate-limit faults give, so a test of the retry path does not wait what production asked`,
  },
} satisfies Record<string, Options>;

/** Each flag's value, by its name in the table, as yargs gives them. */
export type FlagValues = InferredOptionTypes<typeof FLAGS>;
type Args = FlagValues & { _: (string | number)[] };

const USAGE =
  '$0 [options]             run the proxy\n' +
  '$0 scan <dir>            report cassettes that hold something like a credential (exit 1)\n' +
  '$0 redact <file>         redact a cassette in place\n' +
  '$0 inspect <cassette…>   one line per interaction (model, stream, tokens, size) and totals\n' +
  '$0 prune --usage <json>  remove the interactions a replay run never used (GET /_proxy/cassettes)\n' +
  '$0 merge <out> <in…>     combine cassettes (e.g. one per replica), exact duplicates dropped\n\n' +
  'A recording reverse proxy for LLM APIs (OpenAI, Azure, Anthropic, Gemini) that reads and writes go-vcr cassettes.\n' +
  'Every flag can also be set as CASSETTE_PROXY_<FLAG>, e.g. CASSETTE_PROXY_UPSTREAM.';

/**
 * The flag table through yargs-parser, configured as yargs configures it. Returns undefined for
 * anything that is not a plain valid command line (a parse error, a positional, --help, a flag
 * that is not in the table, directly or as its camelCase alias): yargs handles those.
 */
function quickParse(argv: string[]): Args | undefined {
  const flags = Object.entries(FLAGS) as [string, Options][];
  // `key` is an option yargs passes that the type declarations leave out.
  const options: yargsParser.Options & { key: Record<string, boolean> } = {
    string: flags.filter(([, f]) => f.type === 'string').map(([name]) => name),
    boolean: flags.filter(([, f]) => f.type === 'boolean').map(([name]) => name),
    array: flags.filter(([, f]) => f.array).map(([name]) => name),
    default: Object.fromEntries(flags.filter(([, f]) => 'default' in f).map(([name, f]) => [name, f.default])),
    // As yargs does: every flag is a key from the start, so that both spellings of one are one flag.
    key: Object.fromEntries(flags.map(([name]) => [name, true])),
    envPrefix: ENV_PREFIX,
    configuration: { 'parse-positional-numbers': false },
  };
  const parsed = yargsParser.detailed(argv, options);
  if (parsed.error || parsed.argv._.length > 0) return undefined;
  // Only the table's names and their camelCase: aliases made on the fly (`---mode` → `-mode`) are yargs' to refuse.
  const known = new Set(['_', ...Object.keys(FLAGS).flatMap((name) => [name, camelCase(name)])]);
  return Object.keys(parsed.argv).every((key) => known.has(key)) ? (parsed.argv as unknown as Args) : undefined;
}

export const camelCase = (name: string): string => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export const COMMANDS = ['scan', 'redact', 'inspect', 'prune', 'merge'] as const;

/**
 * A flag that takes a value but was given none (`--mode` last, or followed by another flag) is an
 * error: yargs-parser would quietly use the default, so `--mode --port 0` would record.
 */
function requireValues(argv: readonly string[]): void {
  for (const [i, token] of argv.entries()) {
    if (token === '--') return;
    if (!token.startsWith('--') || token.includes('=')) continue;
    const name = kebabCase(token.slice(2));
    const spec = (FLAGS as Record<string, Options>)[name];
    if (spec?.type !== 'string') continue;
    const next = argv[i + 1];
    // A value may start with a dash when it is a number (--port -1 is then refused by its own check).
    if (next === undefined || (next.startsWith('-') && !/^-\d/.test(next))) bad(name, `needs a value: ${spec.describe}`);
  }
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const kebabCase = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** yargs' "Unknown arguments: mdoe, x" as one line per unknown flag or argument, with the nearest suggested. */
function withSuggestion(message: string, argv: readonly string[]): string {
  const listed = /^Unknown arguments?: (.+)$/.exec(message)?.[1]?.split(', ');
  if (!listed) return message;
  // yargs lists a flag's camelCase spelling too; one line per flag is enough.
  const names = listed.filter((name) => !/[A-Z]/.test(name) || !listed.includes(kebabCase(name)));
  const choices = [...Object.keys(FLAGS), 'help', 'version'].map((f) => `--${f}`).concat(COMMANDS);
  return names
    .map((name) => {
      const flag = argv.find((token) => new RegExp(`^--?${escapeRegExp(name)}(?:=|$)`).test(token))?.replace(/=.*/, '');
      const variable = envName(kebabCase(name));
      const what = flag ? `flag ${flag}` : !argv.includes(name) && variable in process.env ? `variable ${variable}` : `argument "${name}"`;
      const near = nearest(kebabCase(name), choices, (c) => c.replace(/^--/, ''));
      return `unknown ${what}${near ? ` (did you mean ${near}?)` : ''}`;
    })
    .join('; ');
}

/** The candidate closest to `word` by edit distance, when close enough to be a typo. */
export function nearest(word: string, candidates: readonly string[], spelling = (c: string): string => c): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = editDistance(word, spelling(candidate));
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

/** Levenshtein distance, one row at a time. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next.push(Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    row = next;
  }
  return row[b.length]!;
}

/** The package's version, from its package.json (three folders above dist/src/cli/). */
export function packageVersion(): string {
  return (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;
}

/** Full yargs: prints --help (and exits 0), or throws the UsageError that names what is wrong. */
async function yargsParse(argv: string[]): Promise<Args> {
  const { default: yargs } = await import('yargs');
  return yargs(argv)
    .scriptName('cassette-proxy')
    .usage(USAGE)
    .env(ENV_PREFIX)
    .options(FLAGS)
    .strict()
    .help()
    .version(packageVersion())
    .wrap(Math.min(110, process.stdout.columns || 110))
    .fail((message, err) => {
      throw err instanceof UsageError ? err : new UsageError(withSuggestion(message || err?.message || 'invalid arguments', argv));
    })
    .parseSync();
}

/** Parses argv (and CASSETTE_PROXY_* variables) into a Config; throws UsageError on a bad value. */
function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) bad(name, `must be one of ${allowed.join(', ')}, got "${value}"`);
  return value as T;
}

/** Parses repeatable field-path flags; a bad one is a UsageError naming the flag. */
export function jsonPaths(name: string, values: unknown): JsonPath[] {
  return list(values).map((text) => {
    const path = parseJsonPath(text);
    return typeof path === 'string' ? bad(name, path) : path;
  });
}

function seconds(name: string, value: string, min: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > MAX_SECONDS) {
    bad(name, `must be a number of seconds${min === 0 ? ', 0 or more' : ' above 0'} and at most ${MAX_SECONDS} (about 24 days), got "${value}"`);
  }
  return n;
}

/** Compiles repeatable regex flags (with the g flag); a bad one, or one that matches the empty string, is a UsageError naming the flag. */
function regexes(name: string, values: unknown): RegExp[] {
  const sources = Array.isArray(values) ? values.map(String) : values === undefined ? [] : [String(values)];
  return sources.map((source) => {
    let re: RegExp;
    try {
      re = new RegExp(source, 'g');
    } catch (err) {
      return bad(name, `"${source}" is not a JavaScript regular expression (${err instanceof Error ? err.message : String(err)})`);
    }
    if (re.test('')) bad(name, `"${source}" matches the empty string, which would put a placeholder between every character; make it match at least one character`);
    re.lastIndex = 0;
    return re;
  });
}

/**
 * A regex may hold a comma (`\d{1,3}`), so only the variable's value is split on commas, as the
 * other lists are; each command-line value is one regex. The command line wins over the variable.
 */
function splitFromEnv(args: Args, argv: readonly string[], name: string): void {
  const spellings = [name, camelCase(name)];
  const given = argv.some((token) => token.startsWith('--') && spellings.includes(token.slice(2).split('=')[0]!));
  if (!given) (args as Record<string, unknown>)[name] = list((args as Record<string, unknown>)[name]);
}

function headerNames(name: string, values: unknown): string[] {
  const names = list(values);
  for (const header of names) if (!HEADER_NAME.test(header)) bad(name, `"${header}" is not a header name`);
  return names;
}

export async function parseConfig(argv: string[]): Promise<Config> {
  requireValues(argv);
  const args = quickParse(argv) ?? (await yargsParse(argv));
  if (args._.length > 0) {
    const command = String(args._[0]);
    const near = nearest(command, COMMANDS);
    throw new UsageError(`unknown command "${command}"${near ? `; did you mean ${near}?` : ''} The commands are ${COMMANDS.slice(0, -1).join(', ')} and ${COMMANDS.at(-1)}`);
  }
  splitFromEnv(args, argv, 'match-normalize');
  return configFrom(args);
}

/** Checks every flag's value (from the command line, the environment or the library's options) into a Config. */
export function configFrom(args: FlagValues): Config {
  // yargs makes a list of a one-value flag given twice (--host a --host b), which no check below expects.
  for (const [name, spec] of Object.entries(FLAGS) as [keyof FlagValues, Options][]) {
    const value = args[name];
    if (!spec.array && Array.isArray(value)) bad(name, `was given ${value.length} times; give it once`);
  }
  const mode: Mode = oneOf('mode', args.mode, MODES);
  const upstreams = upstreamSettings(list(args.upstream), list(args.provider), list(args['upstream-key']), process.env, MODE_POLICY[mode].forward, bad);
  if (upstreams.length === 0) bad('upstream', 'needs a URL');
  const upstream = upstreams[0]!.url;
  const port = Number(args.port);
  if (!/^\d+$/.test(args.port) || port > 65535) bad('port', `must be an integer from 0 to 65535, got "${args.port}"`);
  if (!args.host) bad('host', 'must not be empty');
  const allowedHosts = list(args['allowed-host']);
  for (const name of allowedHosts) {
    const problem = allowedHostProblem(name);
    if (problem) bad('allowed-host', problem);
  }
  const logLevel: LogLevel = oneOf('log-level', args['log-level'], LOG_LEVELS);
  const keyShaped = credentialInName(args.cassette);
  if (keyShaped) bad('cassette', keyShaped);
  try {
    cassettePath(args['cassette-dir'], args.cassette);
  } catch (err) {
    bad('cassette', err instanceof ProxyError ? err.message : String(err));
  }
  const redactHeaders = headerNames('redact-header', args['redact-header']);
  const matchHeaders = headerNames('match-header', args['match-header']);
  const matchNormalize = regexes('match-normalize', args['match-normalize']);
  const replayPolicy = oneOf('replay-policy', args['replay-policy'], REPLAY_POLICIES);
  const replayLatency = oneOf('replay-latency', args['replay-latency'], REPLAY_LATENCIES);
  const replaySpeed = Number(args['replay-speed']);
  if (!(replaySpeed > 0) || !Number.isFinite(replaySpeed)) bad('replay-speed', `must be a number above 0, got "${args['replay-speed']}"`);
  const onMiss = oneOf('on-miss', args['on-miss'], ON_MISS);
  const nearestMaxDiffs = Number(args['nearest-max-diffs']);
  if (!/^\d+$/.test(args['nearest-max-diffs']) || nearestMaxDiffs < 1 || !Number.isSafeInteger(nearestMaxDiffs)) {
    bad('nearest-max-diffs', `must be a whole number of 1 or more, got "${args['nearest-max-diffs']}"`);
  }
  const maxBody = Number(args['max-body']);
  if (!/^\d+$/.test(args['max-body']) || maxBody < 1) bad('max-body', `must be a whole number of bytes above 0, got "${args['max-body']}"`);
  const grace = seconds('shutdown-grace', args['shutdown-grace'], 0);
  const upstreamTimeout = seconds('upstream-timeout', args['upstream-timeout'], 0.001);
  const headersTimeout = seconds('headers-timeout', args['headers-timeout'], 0.001);
  const adminToken = args['admin-token'];
  if (adminToken !== undefined && adminToken.length < 8) bad('admin-token', 'must be at least 8 characters');
  const matchIgnore = jsonPaths('match-ignore', args['match-ignore']);
  const redactBodyFields = jsonPaths('redact-body-field', args['redact-body-field']);
  const redactKey = args['redact-key'];
  const keyProblem = redactKey === undefined ? undefined : redactKeyProblem(redactKey);
  if (keyProblem) bad('redact-key', keyProblem);
  const wsAudio = oneOf('ws-audio', args['ws-audio'], WS_AUDIO);
  const wsIdleTimeout = seconds('ws-idle-timeout', args['ws-idle-timeout'], 0.001);
  const faultsFile = args.faults;
  const replayRetryAfter = args['replay-retry-after'] === undefined ? undefined : seconds('replay-retry-after', args['replay-retry-after'], 0);

  return {
    mode,
    upstream,
    upstreams,
    host: args.host,
    allowedHosts,
    port,
    cassetteDir: args['cassette-dir'],
    cassette: args.cassette,
    redactHeaders,
    redactBodyFields,
    redactKey,
    logLevel,
    replayPolicy,
    replayLatency,
    replaySpeed,
    onMiss,
    nearestMaxDiffs,
    matchIgnore,
    matchHeaders,
    matchNormalize,
    matchBuiltinIgnore: args['match-builtin-ignore'],
    maxBody,
    lockMode: args['lock-mode'],
    adminToken,
    shutdownGraceMs: grace * 1000,
    upstreamTimeoutMs: upstreamTimeout * 1000,
    headersTimeoutMs: headersTimeout * 1000,
    wsAudio,
    wsIdleTimeoutMs: wsIdleTimeout * 1000,
    faults: faultsFile === undefined ? undefined : faultRules(faultsFile),
    replayRetryAfter,
  };
}

/** The rules of a --faults file, read once at start (a bad one stops the start, as a bad flag does). */
function faultRules(file: string): FaultRuleSet {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return bad('faults', `cannot read ${file}: ${describeCause(err)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return bad('faults', `${file} is not JSON: ${describeCause(err)}`);
  }
  try {
    return checkRuleSet(value);
  } catch (err) {
    return bad('faults', `${file}: ${describeCause(err)}`);
  }
}
