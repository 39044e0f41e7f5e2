/**
 * HTTP headers: the one list of connection-level (hop-by-hop) headers, and the one lookup by name
 * in any casing, for Node's header objects, its rawHeaders arrays and a cassette's Go-spelled maps.
 */

/**
 * Headers that belong to one connection (RFC 9110 7.6.1, plus the legacy `keep-alive` and
 * `proxy-connection`): each side of the proxy sets its own, so none is relayed, recorded or replayed.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

/** A field name as HTTP allows it (a token); Go's transport refuses any other. */
export const FIELD_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;

/** What a field value may not hold (RFC 9110 allows HTAB, SP, VCHAR and obs-text): the test Node makes before sending. */
// eslint-disable-next-line no-control-regex
export const UNSENDABLE_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * A WebSocket handshake's own headers: each side of the proxy makes its own key, version and
 * extension offer (the subprotocol is passed on, as the WebSocket library's protocols argument).
 */
export const WEBSOCKET_HANDSHAKE: readonly string[] = ['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions'];

/** The first value of header `lowerName` in a map keyed by any casing (a cassette's `Content-Type`, Node's `content-type`). */
export function headerValue(headers: Readonly<Record<string, readonly string[] | string | undefined>> | undefined, lowerName: string): string | undefined {
  for (const name in headers) {
    if (name.toLowerCase() !== lowerName) continue;
    const value = headers[name];
    return typeof value === 'string' ? value : value?.[0];
  }
  return undefined;
}

/** Every value of header `lowerName` in Node's rawHeaders (`[name, value, name, value, …]`), in arrival order. */
export function rawHeaderValues(raw: readonly string[], lowerName: string): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === lowerName) out.push(raw[i + 1]!);
  return out;
}
