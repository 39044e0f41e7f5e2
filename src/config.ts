/** The proxy's settings after validation: one shape shared by the CLI and the server. */
import type { LogLevel } from './log.js';

export const MODES = ['record'] as const;
export type Mode = (typeof MODES)[number];

export interface Config {
  mode: Mode;
  /** Where requests go; its path, if any, prefixes every request path. */
  upstream: URL;
  host: string;
  port: number;
  cassetteDir: string;
  /** The cassette used when a request names none with `x-cassette`. */
  cassette: string;
  /** Header names redacted on top of the built-in list. */
  redactHeaders: string[];
  logLevel: LogLevel;
}

/** Checks an upstream base URL; returns a problem to report, or the parsed URL. */
export function parseUpstream(text: string): URL | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `"${text}" is not a URL; give one such as https://api.openai.com`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `"${text}" must start with http:// or https://`;
  if (url.search || url.hash) return `"${text}" must not have a query or fragment`;
  return url;
}
