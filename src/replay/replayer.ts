/**
 * Replay: finds the recording that answers a request, and words the miss when there is none.
 * A miss names the cassette, the request, the nearest recording and what differed, field by field.
 */
import { upstreamUrl } from '../config.js';
import { ProxyError } from '../errors.js';
import type { Interaction } from '../cassette/types.js';
import type { RequestView, RequestViewer } from '../match/request-view.js';
import type { Lookup } from '../match/table.js';
import type { ReplayCassettes } from './cassettes.js';
import { displayPath } from '../cassette/names.js';

const SHOWN_DIFFERENCES = 6;

export interface IncomingRequest {
  method: string;
  /** Path and query as the client sent them. */
  url: string;
  headers: NodeJS.Dict<string | string[]>;
  body: Buffer;
}

export type Found = { kind: 'hit'; interaction: Interaction } | { kind: 'miss'; error: ProxyError };

export class Replayer {
  constructor(
    private readonly cassettes: ReplayCassettes,
    private readonly viewer: RequestViewer,
    /** Requests match recordings by the path they would have had upstream (its path prefix added). */
    private readonly upstream: URL,
  ) {}

  /** The recording that answers `request` from `file`; throws a ProxyError when the cassette is unusable. */
  async find(request: IncomingRequest, file: string): Promise<Found> {
    const table = await this.cassettes.table(file);
    const view = this.viewer.view(request.method, upstreamUrl(this.upstream, request.url), request.headers, request.body);
    const found = table.take(view);
    if (found.kind === 'hit') return found;
    return { kind: 'miss', error: new ProxyError('cassette_miss', missMessage(found, view, displayPath(file))) };
  }
}

function missMessage(found: Exclude<Lookup, { kind: 'hit' }>, view: RequestView, cassette: string): string {
  const request = `${view.method} ${view.path}`;
  if (found.kind === 'exhausted') {
    return `cassette-proxy replay: all ${found.recordings} recordings of ${request} in ${cassette} were already used (--replay-policy strict). Record it again, or use --replay-policy repeat.`;
  }
  const head = `cassette-proxy replay: no recording in ${cassette} matches ${request}.`;
  const near = found.nearest;
  if (!near) return `${head} The cassette has no interactions. Record some with --mode record.`;
  const { interaction, differences } = near;
  const shown = differences.slice(0, SHOWN_DIFFERENCES).join('; ');
  const more = differences.length > SHOWN_DIFFERENCES ? `; and ${differences.length - SHOWN_DIFFERENCES} more` : '';
  return (
    `${head} Nearest is interaction ${interaction.id} (${interaction.request.method} ${new URL(interaction.request.url, 'http://x').pathname}), which differs in ${differences.length} field${differences.length === 1 ? '' : 's'}: ` +
    `${shown}${more}. Record this request (--mode record), or leave a changing field out of matching with --match-ignore.`
  );
}
