/**
 * Why a request missed: what differs between it and a recorded request, field by field,
 * e.g. `body.messages[1].content: recorded "What is 15 + 27?", got "What is 2 + 2?"`, or for an
 * upload `body.file: recorded file "a.wav" (audio/wav, 3244 bytes, sha256 1f0e9a3c2b7d), got …`.
 */
import { canonicalJson } from '../json-path.js';
import { DIGEST_ABOVE } from '../read-body.js';
import { describePart, partValue, type FormBody, type FormPart } from './form.js';
import type { BodyView, RequestView } from './request-view.js';

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
  else if (a.kind === 'form' && b.kind === 'form') diffForms(a, b, out);
  else if (!sameBytes(a, b)) out.push(`body: recorded ${describeBody(a)}, got ${describeBody(b)}`);
  return out;
}

/** Each part with its path: `body.file`, and `body.file[1]` for the second part of one name. */
export function partPaths(parts: readonly FormPart[]): [string, FormPart][] {
  const seen = new Map<string, number>();
  return parts.map((part) => {
    const n = seen.get(part.name) ?? 0;
    seen.set(part.name, n + 1);
    const path = childPath('body', part.name);
    return [n === 0 ? path : `${path}[${n}]`, part];
  });
}

/** One line per part that differs (a JSON part with the same name, filename and type: per field inside it). */
function diffForms(recorded: FormBody, got: FormBody, out: string[]): void {
  if (recorded.encoding !== got.encoding) out.push(`body: recorded ${describeBody(recorded)}, got ${describeBody(got)}`);
  const before = new Map(partPaths(recorded.parts));
  const after = new Map(partPaths(got.parts));
  for (const path of new Set([...before.keys(), ...after.keys()])) {
    const a = before.get(path);
    const b = after.get(path);
    if (!a) out.push(`${path}: recorded nothing, got ${describePart(b!, show)}`);
    else if (!b) out.push(`${path}: recorded ${describePart(a, show)}, got nothing`);
    else if (a.content.kind === 'json' && b.content.kind === 'json' && a.filename === b.filename && a.type === b.type) diffValue(path, a.content.value, b.content.value, out);
    else if (canonicalJson(partValue(a)) !== canonicalJson(partValue(b))) out.push(`${path}: recorded ${describePart(a, show)}, got ${describePart(b, show)}`);
  }
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

function sameBytes(a: BodyView, b: BodyView): boolean {
  if (a.kind === 'bytes' && b.kind === 'bytes') return a.bytes.equals(b.bytes);
  return a.kind === 'digest' && b.kind === 'digest' && a.sha256 === b.sha256;
}

function describeBody(body: BodyView): string {
  if (body.kind === 'json') return 'JSON';
  // Above DIGEST_ABOVE only the bytes' digest was kept: no field can be named.
  if (body.kind === 'digest') return `${body.size} bytes with sha256 ${body.sha256.slice(0, 12)} (a body above ${DIGEST_ABOVE / 2 ** 20} MiB is compared byte for byte, JSON key order included)`;
  if (body.kind === 'form') return body.encoding === 'multipart' ? 'a multipart form' : 'an urlencoded form';
  return describeBytes(body.bytes);
}

function describeBytes(bytes: Buffer): string {
  if (bytes.length === 0) return 'no body';
  const text = bytes.toString('utf8');
  return bytes.length <= MAX_VALUE && !text.includes('\ufffd') ? JSON.stringify(text) : `${bytes.length} bytes`;
}
