/**
 * Routing: which upstream a request goes to, chosen per request. Today there is one, the OpenAI
 * API at --upstream; a second provider adds its upstream here and a rule to choose it (a path
 * prefix, a header), and nothing downstream changes: every stage reads `exchange.upstream`.
 */
import type { IncomingMessage } from 'node:http';
import type { Config } from '../config.js';
import { openai } from '../providers/openai.js';
import { upstreamAt, type Upstream } from '../providers/profile.js';

export class UpstreamRouter {
  /** The upstream of requests no rule claims, and whose profile shapes the errors of requests that have none (malformed HTTP, the admin API). */
  readonly primary: Upstream;

  constructor(config: Pick<Config, 'upstream'>) {
    this.primary = upstreamAt(openai, config.upstream);
  }

  route(_req: IncomingMessage): Upstream {
    return this.primary;
  }
}
