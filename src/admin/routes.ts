/**
 * The admin API under /_proxy/ on the proxy's own listener (never forwarded):
 *   GET /_proxy/health     200 with the current mode
 *   GET /_proxy/mode       {"mode", "cassette"}
 *   PUT /_proxy/mode       {"mode"?, "cassette"?}: switch at runtime (guarded, refused under --lock-mode)
 *   POST /_proxy/rewind   {} or {"cassette"}: replay positions back to the start (guarded, allowed under --lock-mode)
 *   GET /_proxy/metrics    Prometheus text
 *   GET /_proxy/cassettes  each cassette in use, with its counts and unsaved interactions
 *   GET /_proxy/faults     the fault rules at work; PUT sets them, DELETE clears them (guarded, refused under --lock-mode)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { cassettePath } from '../storage/names.js';
import { ProxyError, asProxyError } from '../errors.js';
import { sendError, type ErrorRenderer } from '../http/respond.js';
import type { FaultRuleSet } from '../config.js';
import type { Metrics } from '../metrics.js';
import { MODES, type Mode } from '../mode.js';
import { readBody } from '../read-body.js';
import type { BrowserGuard } from './browser-guard.js';
import { authorizeChange } from './guard.js';

export const ADMIN_PREFIX = '/_proxy/';

const UTF8 = new TextDecoder('utf-8', { fatal: true });

export interface CassetteSummary {
  cassette: string;
  interactions_on_disk: number;
  replayed: number;
  never_replayed: number;
  recorded_since_start: number;
  /** Recorded interactions not on disk: waiting for a save, kept after failed saves, or dropped. */
  unsaved: number;
  save_failures: number;
  last_save_error: string | null;
  /**
   * Ids of the interactions never replayed by this process, for a cassette loaded for replay
   * (what it recorded itself is left out): the input of `cassette-proxy prune`.
   */
  never_replayed_ids?: number[];
}

export interface ModeChange {
  mode?: Mode;
  cassette?: string;
}

export interface AdminContext {
  current(): { mode: Mode; cassette: string };
  switchTo(change: ModeChange): Promise<void>;
  /** Rewinds the replay positions of the named cassette, or of every one; answers the files rewound, as shown. */
  rewind(cassette?: string): Promise<string[]>;
  lockMode: boolean;
  adminToken: string | undefined;
  browserGuard: BrowserGuard;
  cassetteDir: string;
  metrics: Metrics;
  cassettes(): CassetteSummary[];
  /** How the admin API's errors look: as the default upstream's API shapes them, so one client reads both. */
  errors: ErrorRenderer;
  /** The fault rules (src/faults/): `set` checks its JSON and throws an `invalid_request` ProxyError for bad rules. */
  faults: { current(): FaultRuleSet | undefined; set(value: unknown): FaultRuleSet; clear(): void };
}

export async function handleAdmin(req: IncomingMessage, res: ServerResponse, ctx: AdminContext): Promise<void> {
  try {
    const route = `${req.method} ${new URL(req.url ?? '/', 'http://x').pathname}`;
    switch (route) {
      case 'GET /_proxy/health':
        return json(res, 200, { status: 'ok', ...ctx.current() });
      case 'GET /_proxy/mode':
        return json(res, 200, ctx.current());
      case 'PUT /_proxy/mode':
        authorize(req, ctx);
        await ctx.switchTo(parseChange(await readBody(req, 64 * 1024), ctx.cassetteDir));
        return json(res, 200, ctx.current());
      case 'POST /_proxy/rewind':
        // Not a mode change: allowed under --lock-mode, so that CI can rewind between runs.
        authorize(req, ctx, { lockable: false });
        return json(res, 200, { rewound: await ctx.rewind(parseRewind(await readBody(req, 64 * 1024))) });
      case 'GET /_proxy/metrics':
        res.writeHead(200, { 'content-type': ctx.metrics.registry.contentType });
        return void res.end(await ctx.metrics.registry.metrics());
      case 'GET /_proxy/cassettes':
        return json(res, 200, { cassettes: ctx.cassettes() });
      case 'GET /_proxy/faults':
        return json(res, 200, ctx.faults.current() ?? NO_FAULTS);
      case 'PUT /_proxy/faults':
        // Faults change every answer a client gets: a change like a mode switch, refused under --lock-mode.
        authorize(req, ctx);
        return json(res, 200, ctx.faults.set(jsonBody(await readBody(req, 64 * 1024), '{"rules":[{"fault":"rate-limit","rate":0.1}],"seed":42}')));
      case 'DELETE /_proxy/faults':
        authorize(req, ctx);
        ctx.faults.clear();
        return json(res, 200, NO_FAULTS);
      default: {
        const known = ['health', 'mode', 'metrics', 'cassettes', 'rewind', 'faults'].some((p) => route.endsWith(`${ADMIN_PREFIX}${p}`));
        throw known
          ? new ProxyError('method_not_allowed', `${route} is not supported; the admin API is described in docs/operations.md`)
          : new ProxyError('not_found', `no admin endpoint ${route}; there are /_proxy/health, /_proxy/mode, /_proxy/rewind, /_proxy/metrics, /_proxy/cassettes and /_proxy/faults`);
      }
    }
  } catch (err) {
    sendError(res, asProxyError(err), ctx.errors);
  }
}

/** Whether this request may change the proxy: not under --lock-mode, not from another site's page, and with the token (or from loopback). */
function authorize(req: IncomingMessage, ctx: AdminContext, { lockable = true } = {}): void {
  if (lockable && ctx.lockMode) throw new ProxyError('mode_locked', 'the mode is locked (--lock-mode): restart the proxy to change it');
  const refused = ctx.browserGuard.checkOrigin((name) => req.headers[name]);
  if (refused) throw refused;
  authorizeChange(ctx, req.socket.remoteAddress, req.headers.authorization);
}

/** A rewind's body: `{}` (every cassette) or `{"cassette": "<name>"}`; an empty body is `{}`. */
function parseRewind(body: Buffer): string | undefined {
  if (body.length === 0) return undefined;
  const { cassette } = objectBody(body, ['cassette'], 'a rewind takes only "cassette"', '{} for every cassette, or {"cassette": "name"}');
  if (cassette !== undefined && typeof cassette !== 'string') throw new ProxyError('invalid_request', '"cassette" must be a string', { param: 'cassette' });
  return cassette;
}

function parseChange(body: Buffer, cassetteDir: string): ModeChange {
  return checkChange(objectBody(body, ['mode', 'cassette'], 'only "mode" and "cassette" can change', '{"mode": "replay"} or {"mode": "record", "cassette": "name"}'), cassetteDir);
}

/** What GET /_proxy/faults answers when no rules are at work. */
const NO_FAULTS = { rules: [], seed: null };

/** An admin request's JSON object body, with no field but `fields`; throws the ProxyError that says what is wrong. */
function objectBody(body: Buffer, fields: readonly string[], onlyThese: string, example: string): Record<string, unknown> {
  return checkObject(jsonBody(body, example), fields, onlyThese);
}

function jsonBody(body: Buffer, example: string): unknown {
  try {
    // Fatal: a byte that is not UTF-8 would otherwise become U+FFFD, and a cassette name another one.
    return JSON.parse(UTF8.decode(body));
  } catch {
    throw new ProxyError('invalid_request', `the body must be JSON such as ${example}`);
  }
}

function checkObject(value: unknown, fields: readonly string[], onlyThese: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ProxyError('invalid_request', 'the body must be a JSON object');
  const unknown = Object.keys(value).filter((key) => !fields.includes(key));
  if (unknown.length > 0) throw new ProxyError('invalid_request', `unknown field ${unknown.join(', ')}; ${onlyThese}`, { param: unknown[0] });
  return value as Record<string, unknown>;
}

/** A runtime change (`{"mode"?, "cassette"?}`), checked; throws the ProxyError that says what is wrong. */
export function checkChange(value: unknown, cassetteDir: string): ModeChange {
  const { mode, cassette } = checkObject(value, ['mode', 'cassette'], 'only "mode" and "cassette" can change');
  if (mode === undefined && cassette === undefined) throw new ProxyError('invalid_request', 'give "mode", "cassette" or both');
  if (mode !== undefined && !MODES.includes(mode as Mode)) {
    throw new ProxyError('invalid_request', `"mode" must be one of ${MODES.join(', ')}, got ${JSON.stringify(mode)}`, { param: 'mode' });
  }
  if (cassette !== undefined) {
    if (typeof cassette !== 'string') throw new ProxyError('invalid_request', '"cassette" must be a string', { param: 'cassette' });
    cassettePath(cassetteDir, cassette); // throws invalid_cassette_name
  }
  return { mode: mode as Mode | undefined, cassette: cassette as string | undefined };
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
