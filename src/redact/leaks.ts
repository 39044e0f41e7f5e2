/**
 * The leak guard: finds what still looks like a credential in a recorded interaction. It backs
 * `cassette-proxy scan`, and tests hold the redactor to it.
 */
import type { Body, HeaderMap, Interaction } from '../cassette/types.js';
import {
  BEARER_TOKEN,
  BUILTIN_SECRET_HEADERS,
  OPENAI_KEY,
  REDACTED,
  SECRET_QUERY_PARAMS,
  eachJsonField,
  isSecretField,
} from './secrets.js';

export interface Leak {
  /** Where, e.g. `request.headers.Authorization`. */
  where: string;
  /** What it looks like, e.g. `an OpenAI key (sk-…)`. */
  what: string;
}

export function findLeaks(interaction: Pick<Interaction, 'request' | 'response'>, extraHeaders: readonly string[] = []): Leak[] {
  const secretHeaders = new Set([...BUILTIN_SECRET_HEADERS, ...extraHeaders.map((h) => h.toLowerCase())]);
  const leaks: Leak[] = [];
  const text = (where: string, value: string): void => {
    if (value.match(OPENAI_KEY)) leaks.push({ where, what: 'an OpenAI key (sk-…)' });
    if (value.match(BEARER_TOKEN)) leaks.push({ where, what: 'a bearer token' });
  };
  const headers = (where: string, map: HeaderMap | undefined): void => {
    for (const [name, values] of Object.entries(map ?? {})) {
      for (const value of values) {
        if (secretHeaders.has(name.toLowerCase()) && value !== REDACTED) leaks.push({ where: `${where}.${name}`, what: 'a credential header that was not redacted' });
        else text(`${where}.${name}`, value);
      }
    }
  };
  const body = (where: string, value: Body | undefined, json: boolean): void => {
    if (value === undefined) return;
    const view = typeof value === 'string' ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1');
    text(where, view);
    if (!json || typeof value !== 'string' || !/^\s*[{[]/.test(value)) return;
    try {
      eachJsonField(JSON.parse(value), (key, child) => {
        if (isSecretField(key) && typeof child === 'string' && child !== REDACTED && child !== '') leaks.push({ where: `${where}.${key}`, what: 'a credential field that was not redacted' });
      });
    } catch {
      // Not JSON: the text checks above still ran.
    }
  };

  const { request, response } = interaction;
  text('request.url', request.url);
  try {
    new URL(request.url).searchParams.forEach((value, name) => {
      if ((SECRET_QUERY_PARAMS as readonly string[]).includes(name.toLowerCase()) && value !== REDACTED) {
        leaks.push({ where: `request.url?${name}`, what: 'a credential query parameter that was not redacted' });
      }
    });
  } catch {
    // A URL that does not parse has no query to look at.
  }
  headers('request.headers', request.headers);
  body('request.body', request.body, true);
  headers('response.headers', response.headers);
  body('response.body', response.body, false);
  return leaks;
}
