/** The cassette a request names with `x-cassette`, and the checks every name from a client or the admin API passes. */
import type { IncomingMessage } from 'node:http';
import { nameFromHeader } from '../storage/names.js';
import { ProxyError } from '../errors.js';
import { CASSETTE_HEADER, takeCassetteHeader } from '../exchange/exchange.js';
import { credentialInName } from '../redact/secrets.js';

/** The cassette name a request gives in `x-cassette` (taken off the request: never forwarded, matched or recorded), if it gives one. */
export function requestedCassette(req: IncomingMessage): string | undefined {
  const value = takeCassetteHeader(req);
  return value === undefined ? undefined : checkedName(nameFromHeader(value));
}

/**
 * A cassette name from a client or the admin API. One shaped like a credential (a key sent in the
 * wrong header) is refused without being repeated: it would show in a file name, logs and errors.
 */
export function checkedName(name: string): string {
  const problem = credentialInName(name);
  if (problem) throw new ProxyError('invalid_cassette_name', problem, { param: CASSETTE_HEADER });
  return name;
}
