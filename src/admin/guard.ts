/**
 * Who may change the proxy at runtime. With an admin token, a change needs
 * `Authorization: Bearer <token>`; without one, only loopback peers may change anything.
 * Reads stay open to everyone: health checks and scrapers come from other hosts.
 */
import { timingSafeEqual } from 'node:crypto';
import { ProxyError } from '../errors.js';

export interface GuardOptions {
  adminToken: string | undefined;
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}

/** Throws the ProxyError to answer with when a change is not allowed. */
export function authorizeChange(options: GuardOptions, peer: string | undefined, authorization: string | undefined): void {
  if (options.adminToken === undefined) {
    if (!isLoopback(peer)) {
      throw new ProxyError('admin_forbidden', `runtime changes are accepted only from loopback when no --admin-token is set (this request came from ${peer ?? 'an unknown address'})`);
    }
    return;
  }
  const given = /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1]?.trim();
  if (!given || !sameSecret(given, options.adminToken)) {
    throw new ProxyError('admin_unauthorized', 'this change needs the header Authorization: Bearer <admin token> (--admin-token)');
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
