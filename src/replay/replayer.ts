/**
 * Replay: finds the recording that answers a request, and words the miss when there is none.
 * A miss names the cassette, the request, the nearest recording and what differed, field by field.
 */
import { createHash } from 'node:crypto';
import { ProxyError } from '../errors.js';
import type { DigestedBody } from '../read-body.js';
import type { Interaction } from '../cassette/types.js';
import type { NearAnswer } from '../exchange/exchange.js';
import type { RequestView, RequestViewer } from '../match/request-view.js';
import type { Lookup } from '../match/table.js';
import { upstreamUrl, type Upstream } from '../providers/profile.js';
import type { ReplayCassettes } from './cassettes.js';
import { displayPath } from '../storage/names.js';

const SHOWN_DIFFERENCES = 6;

export interface IncomingRequest {
  method: string;
  /** Path and query as the client sent them. */
  url: string;
  headers: NodeJS.Dict<string | string[]>;
  /** A body above DIGEST_ABOVE comes as its digest (read-body.ts). */
  body: Buffer | DigestedBody;
}

/**
 * A miss's error is worded when asked: a miss that is forwarded (replay-or-record) never pays for
 * the search and the diff. `nearest(maxDiffs)` is the nearest recording when it differs in at most
 * `maxDiffs` of the lines its error would list (none for a cassette whose recordings of this request
 * were all used under strict: those match, so no other answers instead).
 */
export type Found = { kind: 'hit'; interaction: Interaction } | { kind: 'miss'; error: () => ProxyError; nearest: (maxDiffs: number) => NearAnswer | undefined };

export class Replayer {
  constructor(
    private readonly cassettes: ReplayCassettes,
    private readonly viewer: RequestViewer,
  ) {}

  /**
   * Match keys of requests that hit before, by a SHA-256 of their exact bytes (method, URL, every
   * header, body): the same bytes give the same view, so a repeated request skips decoding,
   * redaction, parsing and the canonical key. A digest, so that no credential a request carried is
   * kept. Bounded; the oldest entries go first.
   */
  private readonly knownKeys = new Map<string, string>();
  private knownChars = 0;

  /**
   * The recording that answers `request` from `file`; throws a ProxyError when the cassette is
   * unusable. Requests match recordings by the path they would have had at `upstream` (its path
   * prefix added).
   */
  async find(request: IncomingRequest, file: string, upstream: Upstream): Promise<Found> {
    const table = await this.cassettes.table(file);
    const url = upstreamUrl(upstream, request.url);
    let view: RequestView | undefined;
    const viewOf = (): RequestView => (view ??= this.viewer.view(request.method, url, request.headers, request.body));
    const digest = exactDigest(request, url);
    let key = digest === undefined ? undefined : this.knownKeys.get(digest);
    const known = key !== undefined;
    key ??= this.viewer.key(viewOf());
    const found = table.take(key, viewOf);
    if (found.kind === 'hit') {
      if (!known && digest !== undefined) this.remember(digest, key);
      return found;
    }
    let error: ProxyError | undefined;
    return {
      kind: 'miss',
      error: () => (error ??= new ProxyError('cassette_miss', missMessage(found, viewOf(), displayPath(file)))),
      nearest: (maxDiffs) => {
        const near = found.kind === 'miss' ? found.nearest() : undefined;
        if (!near) return undefined;
        // The lines a person reads (the error's and the warning's), not the fingerprint's fields:
        // only this one recording is parsed for them.
        const differences = near.differences();
        if (differences.length > maxDiffs) return undefined;
        near.answered();
        return { interaction: near.interaction, differences };
      },
    };
  }

  private remember(digest: string, key: string): void {
    this.knownKeys.set(digest, key);
    this.knownChars += digest.length + key.length;
    while (this.knownKeys.size > KNOWN_MAX_ENTRIES || this.knownChars > KNOWN_MAX_CHARS) {
      const [oldDigest, oldKey] = this.knownKeys.entries().next().value!;
      this.knownKeys.delete(oldDigest);
      this.knownChars -= oldDigest.length + oldKey.length;
    }
  }
}

const KNOWN_MAX_ENTRIES = 10_000;
const KNOWN_MAX_CHARS = 16 * 1024 * 1024;
/** Larger requests are not remembered: their keys would crowd out many small ones. */
const KNOWN_MAX_BODY = 64 * 1024;

/** A digest of everything a request view is made from; undefined for a body too large to remember. */
function exactDigest(request: IncomingRequest, url: string): string | undefined {
  if (!Buffer.isBuffer(request.body) || request.body.length > KNOWN_MAX_BODY) return undefined;
  let out = `${request.method} ${url}\n`;
  for (const name of Object.keys(request.headers)) {
    const value = request.headers[name];
    if (value === undefined) continue;
    // A name holds neither ':' nor '[', and a value no line break: one string stands for one request only.
    out += typeof value === 'string' ? `${name}:${value}\n` : `${name}[]:${JSON.stringify(value)}\n`;
  }
  return createHash('sha256').update(`${out}\n`).update(request.body).digest('base64');
}

function missMessage(found: Exclude<Lookup, { kind: 'hit' }>, view: RequestView, cassette: string): string {
  const request = `${view.method} ${view.path}`;
  if (found.kind === 'exhausted') {
    return `cassette-proxy replay: all ${found.recordings} recordings of ${request} in ${cassette} were already used (--replay-policy strict). Record it again, or use --replay-policy repeat.`;
  }
  const head = `cassette-proxy replay: no recording in ${cassette} matches ${request}.`;
  const near = found.nearest();
  if (!near) return `${head} The cassette has no interactions. Record some with --mode record.`;
  const { interaction } = near;
  const differences = near.differences();
  const shown = differences.slice(0, SHOWN_DIFFERENCES).join('; ');
  const more = differences.length > SHOWN_DIFFERENCES ? `; and ${differences.length - SHOWN_DIFFERENCES} more` : '';
  return (
    `${head} Nearest is interaction ${interaction.id} (${interaction.request.method} ${new URL(interaction.request.url, 'http://x').pathname}), which differs in ${differences.length} field${differences.length === 1 ? '' : 's'}: ` +
    `${shown}${more}. Record this request (--mode record), or leave a changing field out of matching with --match-ignore.`
  );
}
