/** The proxy's settings after validation: one shape shared by the CLI and the server. */
import type { JsonPath } from './json-path.js';
import type { LogLevel } from './log.js';
import type { Mode, OnMiss, ReplayLatency, ReplayPolicy, WsAudio } from './mode.js';

export interface Config {
  mode: Mode;
  /** Where requests go that no named upstream claims; its path, if any, prefixes every request path. */
  upstream: URL;
  /**
   * Every upstream with its settings, the default first (its URL is `upstream`); empty: only
   * `upstream`, its profile inferred from its host (the library's and tests' shorthand).
   */
  upstreams: UpstreamSetting[];
  host: string;
  /** Names besides loopback ones that requests may be addressed to (the Host check; see BrowserGuard). */
  allowedHosts: string[];
  port: number;
  cassetteDir: string;
  /** The cassette used when a request names none with `x-cassette`. */
  cassette: string;
  /** Header names redacted on top of the built-in list. */
  redactHeaders: string[];
  /** JSON body fields whose values are redacted before saving (and before matching in replay). */
  redactBodyFields: JsonPath[];
  /** The key of the digests that redacted values become (never logged); undefined: the public default key. */
  redactKey: string | undefined;
  logLevel: LogLevel;
  /** Replay: `strict` answers with each recording once, `repeat` repeats the last one. */
  replayPolicy: ReplayPolicy;
  replayLatency: ReplayLatency;
  replaySpeed: number;
  /** Replay mode: a miss gets an error, or its nearest recording when that differs in at most `nearestMaxDiffs` fields. */
  onMiss: OnMiss;
  nearestMaxDiffs: number;
  /** Body fields left out of matching. */
  matchIgnore: JsonPath[];
  /** Headers that must match too. */
  matchHeaders: string[];
  /** Every match inside a request's strings becomes one placeholder before matching (compiled with the g flag). */
  matchNormalize: RegExp[];
  /** Leave the built-in list of fields that cannot change the answer (BUILTIN_IGNORE) out of matching. */
  matchBuiltinIgnore: boolean;
  /** Largest request body, in bytes. */
  maxBody: number;
  /** How long the upstream may take to send response headers. */
  upstreamTimeoutMs: number;
  /** How long a client may take to send its request headers. */
  headersTimeoutMs: number;
  /** Refuse every runtime mode change. */
  lockMode: boolean;
  /** When set, runtime changes need `Authorization: Bearer <token>`; otherwise only loopback may change. */
  adminToken: string | undefined;
  /** How long exchanges in flight may take to finish at shutdown. */
  shutdownGraceMs: number;
  /** WebSocket audio payloads in cassettes: whole, or as length plus digest. */
  wsAudio: WsAudio;
  /** Replay: how long a WebSocket session waits for the client's next recorded frame. */
  wsIdleTimeoutMs: number;
  /** Fault rules applied from the start (--faults), as src/faults/rules.ts checked them. */
  faults: FaultRuleSet | undefined;
  /** Seconds that replayed and injected answers give in retry-after (--replay-retry-after); undefined leaves them as they are. */
  replayRetryAfter: number | undefined;
}

/** One upstream as the command line gives it (--upstream, --provider, --upstream-key). */
export interface UpstreamSetting {
  /** The `upstream` of log lines and metrics; for a prefixed one, the path prefix /NAME/ too. */
  name: string;
  url: URL;
  /** A profile's name (openai, azure, anthropic, gemini); undefined: inferred from the URL's host. */
  provider?: string;
  /** Reached by the path prefix /NAME/ (it was given as NAME=URL); the plain --upstream URL only by the paths no prefix claims. */
  prefixed: boolean;
  /** The environment variable holding the key the proxy sends this upstream (--upstream-key); read at start, never kept here. */
  keyVariable?: string;
}

/** One fault rule, as `--faults` and `PUT /_proxy/faults` give it (docs/faults.md). */
export interface FaultRule {
  /** One fault or several, as `x-cassette-fault` gives them: `rate-limit`, `slow-first-byte=500,drop-after=3`. */
  fault: string;
  /** The share of matching requests faulted, 0 to 1. */
  rate: number;
  /** The request path (no query) exactly, or a prefix ending in `*`. */
  path?: string;
  /** The upstream's name (`openai`). */
  upstream?: string;
  method?: string;
}

/** Fault rules with the seed that makes the choice of requests reproducible. */
export interface FaultRuleSet {
  rules: FaultRule[];
  seed: number;
}

/** Checks an upstream base URL; returns a problem to report, or the parsed URL. */
export function parseUpstream(text: string): URL | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `"${text}" is not a URL; give one such as https://api.openai.com`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `"${text}" must start with http:// or https://`;
  if (url.search || url.hash) return `"${text}" must not have a query or fragment`;
  return url;
}
