/**
 * Routing: which upstream a request goes to, chosen per request. A request whose path starts with
 * `/NAME/` goes to the upstream given as `--upstream NAME=URL`, with the prefix removed (an SDK's
 * base URL is the proxy's plus `/NAME`); every other request goes to the default upstream. Nothing
 * downstream knows: every stage reads `exchange.upstream` and the path below the prefix.
 */
import type { IncomingMessage } from 'node:http';
import type { Config, UpstreamSetting } from '../config.js';
import { upstreamAt, type Upstream } from '../providers/profile.js';
import { profileForHost, profileNamed } from '../providers/registry.js';

export class UpstreamRouter {
  /** The upstream of requests no prefix claims, and whose profile shapes the errors of requests that have none (malformed HTTP, the admin API). */
  readonly primary: Upstream;
  /** Every upstream, the default first. */
  readonly all: readonly Upstream[];
  private readonly prefixed = new Map<string, Upstream>();

  constructor(config: Pick<Config, 'upstream' | 'upstreams'>) {
    const settings: UpstreamSetting[] = config.upstreams.length > 0 ? config.upstreams : [{ name: profileForHost(config.upstream).name, url: config.upstream, prefixed: false }];
    this.all = settings.map((setting) => {
      const profile = setting.provider === undefined ? profileForHost(setting.url) : profileNamed(setting.provider);
      if (!profile) throw new Error(`unknown provider "${setting.provider}" for the upstream ${setting.name}`);
      const upstream = upstreamAt(profile, setting.url, setting.name);
      if (setting.prefixed) this.prefixed.set(setting.name, upstream);
      return upstream;
    });
    this.primary = this.all[0]!;
  }

  /** The request's upstream; a prefix that names one is taken off the request's path. */
  route(req: IncomingMessage): Upstream {
    const url = req.url;
    if (this.prefixed.size === 0 || !url?.startsWith('/')) return this.primary;
    const end = url.indexOf('/', 1);
    const upstream = end > 1 ? this.prefixed.get(url.slice(1, end)) : undefined;
    if (!upstream) return this.primary;
    req.url = url.slice(end);
    return upstream;
  }
}
