/**
 * Why a request missed: what differs between it and a recorded request, field by field,
 * e.g. `body.messages[1].content: recorded "What is 15 + 27?", got "What is 2 + 2?"`.
 */
import type { RequestView } from './request-view.js';

const MAX_VALUE = 120;

/** Every difference between a recorded request and an incoming one, as readable lines. */
export function differences(recorded: RequestView, got: RequestView): string[] {
  const out: string[] = [];
  if (recorded.method !== got.method) out.push(`method: recorded ${recorded.method}, got ${got.method}`);
  if (recorded.path !== got.path) out.push(`path: recorded ${recorded.path}, got ${got.path}`);
  diffValue('query', groupPairs(recorded.query), groupPairs(got.query), out);
  diffValue('header', recorded.headers, got.headers, out);
  const [a, b] = [recorded.body, got.body];
  if (a.kind === 'json' && b.kind === 'json') diffValue('body', a.value, b.value, out);
  else if (a.kind === 'bytes' && b.kind === 'bytes') {
    if (!a.bytes.equals(b.bytes)) out.push(`body: recorded ${describeBytes(a.bytes)}, got ${describeBytes(b.bytes)}`);
  } else {
    out.push(`body: recorded ${a.kind === 'json' ? 'JSON' : describeBytes(a.bytes)}, got ${b.kind === 'json' ? 'JSON' : describeBytes(b.bytes)}`);
  }
  return out;
}

/** Query pairs by name, values in order: the shape differences and fingerprints give a query. */
export function groupPairs(pairs: [string, string][]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, value] of pairs) (out[name] ??= []).push(value);
  return out;
}

function diffValue(path: string, recorded: unknown, got: unknown, out: string[]): void {
  if (Array.isArray(recorded) && Array.isArray(got)) {
    const shared = Math.min(recorded.length, got.length);
    for (let i = 0; i < shared; i++) diffValue(`${path}[${i}]`, recorded[i], got[i], out);
    for (let i = shared; i < recorded.length; i++) out.push(`${path}[${i}]: recorded ${show(recorded[i])}, got nothing`);
    for (let i = shared; i < got.length; i++) out.push(`${path}[${i}]: recorded nothing, got ${show(got[i])}`);
    return;
  }
  if (isObject(recorded) && isObject(got)) {
    for (const key of new Set([...Object.keys(recorded), ...Object.keys(got)])) {
      const child = childPath(path, key);
      if (!(key in recorded)) out.push(`${child}: recorded nothing, got ${show(got[key])}`);
      else if (!(key in got)) out.push(`${child}: recorded ${show(recorded[key])}, got nothing`);
      else diffValue(child, recorded[key], got[key], out);
    }
    return;
  }
  if (JSON.stringify(recorded) !== JSON.stringify(got)) out.push(`${path}: recorded ${show(recorded)}, got ${show(got)}`);
}

/** `path.key`, or `path["key"]` for a key that is not a plain name. */
export function childPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE)}…` : text;
}

function describeBytes(bytes: Buffer): string {
  if (bytes.length === 0) return 'no body';
  const text = bytes.toString('utf8');
  return bytes.length <= MAX_VALUE && !text.includes('\ufffd') ? JSON.stringify(text) : `${bytes.length} bytes`;
}
