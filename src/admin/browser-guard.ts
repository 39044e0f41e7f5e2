/**
 * What a web page on the developer's machine must not be able to do through the proxy. A page on
 * any site can make the browser send requests to 127.0.0.1: plain cross-site ones (a `text/plain`
 * POST needs no CORS preflight), and, by DNS rebinding, requests under the page's own name that
 * then reach the proxy and whose answers the page may read. The browser always says which site it
 * speaks for (`Host`, `Origin`, `Sec-Fetch-Site`), so such requests are refused on those headers:
 *  - Host: a proxy listening on loopback (or given --allowed-host) answers only requests addressed
 *    to a loopback name or address, or to a name given with --allowed-host (DNS rebinding);
 *  - Origin / Sec-Fetch-Site: a request a page on another site made (cross-site requests).
 * SDKs and curl send no Origin and no Sec-Fetch-Site, and address the proxy by the name they use.
 */
import { isIP } from 'node:net';
import { ProxyError } from '../errors.js';
import { isLoopback } from './guard.js';

export interface BrowserGuardOptions {
  /** The address the proxy listens on. */
  host: string;
  /** Host names (besides loopback ones) the proxy may be addressed by (--allowed-host). */
  allowedHosts: readonly string[];
}

/** A page can send any number of names; only this many verdicts are kept (then they start over). */
const MAX_REMEMBERED_HOSTS = 256;

export type HeaderLookup = (name: 'host' | 'origin' | 'sec-fetch-site') => string | string[] | undefined;

export class BrowserGuard {
  private readonly allowed: ReadonlySet<string>;
  private readonly hostVerdicts = new Map<string, boolean>();
  /** Whether Host and Origin are checked on every request (not only on admin changes). */
  readonly active: boolean;

  constructor(options: BrowserGuardOptions) {
    this.allowed = new Set(options.allowedHosts.map(normalise));
    this.active = isLoopbackName(options.host) || this.allowed.size > 0;
  }

  /** The refusal for a request a browser page may have forged, or undefined when it may pass. */
  checkRequest(header: HeaderLookup): ProxyError | undefined {
    if (!this.active) return undefined;
    const host = single(header('host'));
    // A request without Host (HTTP/1.0) did not come from a browser, which always sends one.
    if (host !== undefined && !this.allowsHost(host)) {
      return new ProxyError(
        'host_not_allowed',
        `cassette-proxy answers only requests addressed to localhost, a loopback address, or a name given with --allowed-host; this one was addressed to ${JSON.stringify(host.slice(0, 100))}. ` +
          'If you reach the proxy by that name on purpose, start it with --allowed-host <name>.',
        { param: 'host' },
      );
    }
    return this.checkOrigin(header);
  }

  /** Refusal for a runtime change made from a page of another site; checked whatever the listen address. */
  checkOrigin(header: HeaderLookup): ProxyError | undefined {
    const origin = single(header('origin'));
    if (origin !== undefined) {
      if (this.allows(hostnameOfUrl(origin))) return undefined;
      return new ProxyError(
        'origin_not_allowed',
        `cassette-proxy refuses requests made by a web page of another site (Origin ${JSON.stringify(origin.slice(0, 100))}); ` +
          'only pages on localhost or on a name given with --allowed-host may use it.',
        { param: 'origin' },
      );
    }
    if (single(header('sec-fetch-site'))?.toLowerCase() === 'cross-site') {
      return new ProxyError('origin_not_allowed', 'cassette-proxy refuses requests made by a web page of another site (Sec-Fetch-Site: cross-site).', { param: 'origin' });
    }
    return undefined;
  }

  /** A Host header's verdict, remembered: clients use few names, and parsing one per request is waste. */
  private allowsHost(host: string): boolean {
    let verdict = this.hostVerdicts.get(host);
    if (verdict === undefined) {
      verdict = this.allows(hostnameOf(host));
      if (this.hostVerdicts.size >= MAX_REMEMBERED_HOSTS) this.hostVerdicts.clear();
      this.hostVerdicts.set(host, verdict);
    }
    return verdict;
  }

  private allows(hostname: string | undefined): boolean {
    return hostname !== undefined && (isLoopbackName(hostname) || this.allowed.has(hostname));
  }
}

/** localhost, *.localhost (RFC 6761: always loopback), 127.0.0.0/8 and ::1, with or without brackets. */
export function isLoopbackName(name: string): boolean {
  const host = normalise(name);
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  return isIP(host) !== 0 && isLoopback(host);
}

/** Checks an --allowed-host value: a host name or an IP address, without scheme or port. */
export function allowedHostProblem(name: string): string | undefined {
  if (isIP(normalise(name)) !== 0) return undefined;
  if (name.length > 253 || !/^[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*\.?$/i.test(name)) {
    return `"${name}" is not a host name; give a name such as cassette-proxy or my-host.internal, without scheme or port`;
  }
  return undefined;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The host name of a Host header (`name:port`, `[v6]:port`); undefined when it is anything else. */
function hostnameOf(host: string): string | undefined {
  // Only a name and a port: URL parsing alone would read `evil.example@127.0.0.1` as 127.0.0.1.
  return HOST_HEADER.test(host) ? hostnameOfUrl(`http://${host}`) : undefined;
}

const HOST_HEADER = /^(?:\[[0-9a-f:.]+\]|[^\s:@/\\?#[\]%]+)(?::\d{1,5})?$/i;

/** The host name of a URL such as an Origin (`null` and other opaque origins have none). */
function hostnameOfUrl(text: string): string | undefined {
  try {
    const { hostname } = new URL(text);
    return hostname === '' ? undefined : normalise(hostname);
  } catch {
    return undefined;
  }
}

/** One spelling per host: lower case, no IPv6 brackets, no trailing dot. */
function normalise(host: string): string {
  const lower = host.toLowerCase().replace(/\.$/, '');
  return lower.startsWith('[') && lower.endsWith(']') ? lower.slice(1, -1) : lower;
}
