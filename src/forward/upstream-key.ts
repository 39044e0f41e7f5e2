/**
 * --upstream-key: the proxy holds an upstream's key, read from the environment at start, and puts
 * it where the upstream's profile says (Authorization: Bearer, api-key, x-api-key,
 * x-goog-api-key), replacing whatever key the app sent there or elsewhere (Gemini's `?key=`). The
 * app may then run with a dummy key, and replay needs none. The key lives in this module's closure
 * only: the recorded request carries it until redaction, which runs last, masks it there and
 * wherever the upstream echoed it.
 */
import type { IncomingMessage } from 'node:http';
import type { UpstreamSetting } from '../config.js';
import type { Feature } from '../exchange/hooks.js';
import type { KeyPlacement } from '../providers/profile.js';

/**
 * The key of each upstream that has one, by upstream name, and the upstreams whose variable is not
 * set: the command refuses to start so in a mode that forwards, while a replay needs no key.
 */
export function upstreamKeysFromEnv(settings: readonly UpstreamSetting[], env: NodeJS.ProcessEnv = process.env): { keys: Map<string, string>; unset: string[] } {
  const keys = new Map<string, string>();
  const unset: string[] = [];
  for (const { name, keyVariable } of settings) {
    if (keyVariable === undefined) continue;
    const value = env[keyVariable];
    if (value) keys.set(name, value);
    else unset.push(`${name}=${keyVariable}`);
  }
  return { keys, unset };
}

export function upstreamKeys(keys: ReadonlyMap<string, string>): Feature {
  return {
    beforeForward(req, exchange) {
      const key = keys.get(exchange.upstream.name);
      if (key !== undefined) sendKey(req, exchange.upstream.profile.key, key);
      return req;
    },
  };
}

function sendKey(req: IncomingMessage, placement: KeyPlacement, key: string): void {
  const replaced = new Set([placement.header, ...placement.replaces.headers]);
  for (const name of replaced) delete req.headers[name];
  const raw = req.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) if (replaced.has(raw[i]!.toLowerCase())) raw.splice(i, 2);
  const value = `${placement.prefix}${key}`;
  req.headers[placement.header] = value;
  raw.push(placement.header, value);
  if (placement.replaces.params.length > 0 && req.url) req.url = withoutParams(req.url, new Set(placement.replaces.params));
}

/** The path and query without the named parameters; every other byte as the client sent it. */
function withoutParams(url: string, names: ReadonlySet<string>): string {
  const at = url.indexOf('?');
  if (at === -1) return url;
  const kept = url
    .slice(at + 1)
    .split('&')
    .filter((pair) => !names.has(decodedName(pair)));
  return kept.length === 0 ? url.slice(0, at) : `${url.slice(0, at)}?${kept.join('&')}`;
}

function decodedName(pair: string): string {
  const name = pair.split('=', 1)[0]!.replaceAll('+', ' ');
  try {
    return decodeURIComponent(name).toLowerCase();
  } catch {
    return name.toLowerCase();
  }
}
