/**
 * Field paths into JSON bodies, as users write them in flags: `user`, `metadata.session`,
 * `messages[0].content`, `messages[*].content`. Used to leave fields out of matching and to
 * redact them. Bodies are parsed with parseJsonBody, which bounds their depth.
 */

export type PathSegment = string | number | '*';

export interface JsonPath {
  text: string;
  segments: PathSegment[];
}

const SEGMENT = /^(?:\.?([A-Za-z0-9_\-$@:]+)|\[(\d+|\*)\])/;

/** Parses a path; returns an error message instead when it cannot be read. */
export function parseJsonPath(text: string): JsonPath | string {
  const segments: PathSegment[] = [];
  let rest = text.trim();
  if (!rest) return 'the path is empty';
  while (rest) {
    const m = SEGMENT.exec(rest);
    if (!m) return `"${text}" is not a field path (use a.b, a[0].b or a[*].b)`;
    if (m[1] !== undefined) segments.push(m[1]);
    else segments.push(m[2] === '*' ? '*' : Number(m[2]));
    rest = rest.slice(m[0].length);
  }
  return { text, segments };
}

/** Calls `visit(parent, key)` for every place the path reaches in `value` that exists. */
function walk(value: unknown, segments: readonly PathSegment[], visit: (parent: Record<string, unknown> | unknown[], key: string | number) => void): void {
  if (segments.length === 0 || value === null || typeof value !== 'object') return;
  const [head, ...tail] = segments;
  const keys: (string | number)[] =
    head === '*' ? (Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value)) : [head!];
  for (const key of keys) {
    const container = value as Record<string | number, unknown>;
    if (!(key in container)) continue;
    if (tail.length === 0) visit(value as Record<string, unknown>, key);
    else walk(container[key], tail, visit);
  }
}

/** Removes every field the paths reach (in place). */
export function removePaths(value: unknown, paths: readonly JsonPath[]): void {
  for (const path of paths) {
    walk(value, path.segments, (parent, key) => {
      if (Array.isArray(parent)) parent[key as number] = null;
      else delete parent[key as string];
    });
  }
}

/** Replaces every field the paths reach with what `replace` makes of its value (in place); returns how many were replaced. */
export function replacePaths(value: unknown, paths: readonly JsonPath[], replace: (old: unknown) => unknown): number {
  let count = 0;
  for (const path of paths) {
    walk(value, path.segments, (parent, key) => {
      const container = parent as Record<string | number, unknown>;
      container[key] = replace(container[key]);
      count++;
    });
  }
  return count;
}

/** JSON with object keys sorted at every level, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

/**
 * How deep a body may nest arrays and objects and still be read as JSON. Every walk over a parsed
 * body (matching, fingerprints, differences, redaction, JSON.stringify) recurses once per level:
 * a deeper body (`[` ×500,000 is valid JSON) would overflow the stack, so it is treated as bytes.
 */
export const MAX_JSON_DEPTH = 1000;

/** What parseJsonBody throws for a body nested deeper than MAX_JSON_DEPTH. */
export class JsonTooDeep extends SyntaxError {
  constructor() {
    super(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
}

/**
 * JSON.parse for request and response bodies: throws, as for text that is not JSON, when the text
 * nests deeper than MAX_JSON_DEPTH. JSON.parse itself does not recurse, so the depth is checked on
 * the text: a body with no more brackets than that (nearly every one) needs no further look.
 */
export function parseJsonBody(text: string): unknown {
  if (bracketsAtMost(text, MAX_JSON_DEPTH) || depthWithin(text, MAX_JSON_DEPTH)) return JSON.parse(text);
  throw new JsonTooDeep();
}

/** True when `text` holds at most `max` opening brackets, anywhere (indexOf is far faster than a loop over characters). */
function bracketsAtMost(text: string, max: number): boolean {
  let count = 0;
  for (const bracket of ['[', '{']) {
    for (let at = text.indexOf(bracket); at !== -1; at = text.indexOf(bracket, at + 1)) if (++count > max) return false;
  }
  return true;
}

/** True when arrays and objects in `text` nest at most `max` deep (brackets inside strings do not count). */
function depthWithin(text: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: skip to its closing quote, past escapes.
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return false;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return true;
}
