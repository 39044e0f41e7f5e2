/**
 * Replay: answers a request from a cassette and never contacts the upstream. A request that
 * matches nothing gets a 404 in OpenAI's error shape (the official SDKs do not retry it) that names
 * the cassette, the request, the nearest recording and what differed; the same goes to the log.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { upstreamUrl } from '../config.js';
import { ProxyError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RequestView, RequestViewer } from '../match/request-view.js';
import type { Lookup } from '../match/table.js';
import type { ReplayCassettes } from './cassettes.js';
import { displayPath } from './display-path.js';
import { readBody } from './read-body.js';
import { sendRecorded, type Pacing } from './responder.js';

export interface ReplayOptions {
  pacing: Pacing;
  maxBody: number;
  /** Requests match recordings by the path they would have had upstream (its path prefix added). */
  upstream: URL;
}

const SHOWN_DIFFERENCES = 6;

export class Replayer {
  constructor(
    private readonly cassettes: ReplayCassettes,
    private readonly viewer: RequestViewer,
    private readonly options: ReplayOptions,
    private readonly log: Logger,
  ) {}

  /** Answers from `file`; throws a ProxyError (answered by the caller) on a miss or a bad cassette. */
  async replay(req: IncomingMessage, res: ServerResponse, file: string): Promise<void> {
    const body = await readBody(req, this.options.maxBody);
    const table = await this.cassettes.table(file);
    const view = this.viewer.view(req.method ?? 'GET', upstreamUrl(this.options.upstream, req.url ?? '/'), req.headers, body);
    const found = table.take(view);
    if (found.kind !== 'hit') {
      const error = new ProxyError('cassette_miss', missMessage(found, view, displayPath(file)));
      this.log.warn({ cassette: displayPath(file), method: view.method, path: view.path }, error.message);
      throw error;
    }
    await sendRecorded(res, found.interaction, this.options.pacing);
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
