/**
 * Drift in matching: --match-normalize replaces every match of a regular expression inside the
 * strings of a request with one placeholder, on both sides, so a date or run id that changes from
 * run to run no longer decides which recording answers. The built-in ignore list leaves out request
 * fields that change between runs or SDK versions but cannot change the model's answer.
 */
import type { Feature } from '../exchange/hooks.js';
import { parseJsonPath, type JsonPath } from '../json-path.js';

/** What every match becomes; shown as such in a miss message's differences. */
export const NORMALIZED = '<normalized>';

/**
 * Left out of matching unless --match-builtin-ignore is false: prompt caching, abuse monitoring and
 * stream obfuscation padding (OpenAI API reference). None of them changes what the model answers.
 */
export const BUILTIN_IGNORE: readonly JsonPath[] = ['user', 'safety_identifier', 'prompt_cache_key', 'prompt_cache_retention', 'stream_options.include_obfuscation'].map(
  (text) => parseJsonPath(text) as JsonPath,
);

/** --match-normalize as a feature: every string that takes part in matching, on both sides, normalised after parsing. */
export function normalization(patterns: readonly RegExp[]): Feature {
  return { beforeMatch: { text: normalizer(patterns) } };
}

/** The function that normalises one string, or undefined when there is nothing to do (no per-request cost). */
function normalizer(patterns: readonly RegExp[]): ((text: string) => string) | undefined {
  if (patterns.length === 0) return undefined;
  const global = patterns.map((p) => (p.global ? p : new RegExp(p.source, `${p.flags}g`)));
  return (text) => {
    let out = text;
    // An empty match (`\b`, a lookahead) is left alone: a placeholder there would change nothing it should.
    for (const re of global) out = out.replace(re, (match) => (match === '' ? '' : NORMALIZED));
    return out;
  };
}

/** Normalises every string value in a parsed JSON body, in place (parseJsonBody bounds its depth). */
export function normalizeJson(value: unknown, normalize: (text: string) => string): void {
  if (value === null || typeof value !== 'object') return;
  const container = value as Record<string | number, unknown>;
  for (const key of Array.isArray(value) ? value.keys() : Object.keys(value)) {
    const item = container[key];
    if (typeof item === 'string') container[key] = normalize(item);
    else normalizeJson(item, normalize);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A text body, normalised; a body that is not UTF-8 (an image, a multipart upload with binary parts) is left as it is. */
export function normalizeText(bytes: Buffer, normalize: (text: string) => string): Buffer {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return bytes;
  }
  return Buffer.from(normalize(text), 'utf8');
}
