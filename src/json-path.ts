/**
 * Field paths into JSON bodies, as users write them in flags: `user`, `metadata.session`,
 * `messages[0].content`, `messages[*].content`. Used to leave fields out of matching and to
 * redact them.
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

/** Replaces every field the paths reach with `marker` (in place); returns how many were replaced. */
export function replacePaths(value: unknown, paths: readonly JsonPath[], marker: string): number {
  let count = 0;
  for (const path of paths) {
    walk(value, path.segments, (parent, key) => {
      (parent as Record<string | number, unknown>)[key] = marker;
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
