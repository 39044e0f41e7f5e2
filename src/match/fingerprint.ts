/**
 * A request's fingerprint for the nearest-recording search: every field that takes part in
 * matching, as its path and a number hashed from the path and the value. Fields go three levels
 * deep (`body.messages[2]`, `body.metadata.case`, `query.limit[0]`); a deeper value is one field,
 * hashed whole, so that a changed message or tool is one field, as a person counts it; so is each
 * part of a form (`body.file`). Numbers,
 * not the values, so a fingerprint costs little to keep for every recording.
 */
import { childPath, groupPairs, partPaths } from './diff.js';
import { partValue } from './form.js';
import type { RequestView } from './request-view.js';

/** `body` is level 1, `body.messages` 2, `body.messages[2]` 3. */
const LEVELS = 3;

export interface Fingerprint {
  /** Method and path: the recordings a miss is compared with first. */
  endpoint: string;
  /** Field paths, each once. */
  paths: string[];
  /** keys[i]: the hash of paths[i] with its value; equal keys, equal fields. */
  keys: number[];
}

export function fingerprint(view: RequestView): Fingerprint {
  const out: Fingerprint = { endpoint: `${view.method} ${view.path}`, paths: [], keys: [] };
  const field = (path: string, value: unknown): void => {
    out.paths.push(path);
    out.keys.push(new Hash().text(path).value(value).done());
  };
  field('method', view.method);
  field('path', view.path);
  walk('query', groupPairs(view.query), 1, field);
  walk('header', view.headers, 1, field);
  if (view.body.kind === 'json') walk('body', view.body.value, 1, field);
  else if (view.body.kind === 'form') {
    // A part is one field, as a person counts them: a changed upload is one difference.
    field('body', `form:${view.body.encoding}`);
    for (const [path, part] of partPaths(view.body.parts)) field(path, partValue(part));
  } else if (view.body.kind === 'digest') {
    field('body', `sha256:${view.body.sha256}`);
  } else {
    out.paths.push('body');
    out.keys.push(new Hash().text('body').bytes(view.body.bytes).done());
  }
  return out;
}

/** The fields of `value` at `path`: its children down to LEVELS, an empty object or array as one field. */
function walk(path: string, value: unknown, level: number, field: (path: string, value: unknown) => void): void {
  if (level < LEVELS && Array.isArray(value) && value.length > 0) {
    value.forEach((child, i) => walk(`${path}[${i}]`, child, level + 1, field));
  } else if (level < LEVELS && isObject(value) && Object.keys(value).length > 0) {
    for (const [key, child] of Object.entries(value)) walk(childPath(path, key), child, level + 1, field);
  } else {
    field(path, value);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** An object's key, on Hash.value's stack before its value (a JSON value is never one). */
class Key {
  constructor(readonly name: string) {}
}

/**
 * A 53-bit hash (cyrb53's mixing, public domain, bryc), fed with JSON as canonicalJson would print
 * it but without printing it: equal values (key order aside) hash alike, different ones about once
 * in 2^53, and a JavaScript number holds it exactly.
 */
class Hash {
  private h1 = 0xdeadbeef;
  private h2 = 0x41c6ce57;

  private feed(n: number): void {
    this.h1 = Math.imul(this.h1 ^ n, 2654435761);
    this.h2 = Math.imul(this.h2 ^ n, 1597334677);
  }

  /** A string, its length first, so that where one ends is part of the hash. */
  text(text: string): this {
    this.feed(text.length);
    for (let i = 0; i < text.length; i++) this.feed(text.charCodeAt(i));
    return this;
  }

  bytes(bytes: Uint8Array): this {
    this.feed(bytes.length);
    for (let i = 0; i < bytes.length; i++) this.feed(bytes[i]!);
    return this;
  }

  /**
   * A JSON value; the tags (above any UTF-16 code unit) keep its kinds apart. With a stack of its
   * own, not recursion: a body nested hundreds of thousands deep must not overflow the call stack
   * when its cassette loads.
   */
  value(root: unknown): this {
    const pending: unknown[] = [root];
    while (pending.length > 0) {
      const value = pending.pop();
      if (value instanceof Key) this.text(value.name);
      else if (typeof value === 'string') this.tag(1).text(value);
      else if (Array.isArray(value)) {
        this.tag(2).feed(value.length);
        for (let i = value.length - 1; i >= 0; i--) pending.push(value[i]);
      } else if (isObject(value)) {
        const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
        this.tag(3).feed(keys.length);
        for (let i = keys.length - 1; i >= 0; i--) pending.push(value[keys[i]!], new Key(keys[i]!));
      } else {
        // Numbers, booleans and null, as JSON prints them.
        this.tag(4).text(JSON.stringify(value) ?? 'null');
      }
    }
    return this;
  }

  done(): number {
    let { h1, h2 } = this;
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
    h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
    h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return 4294967296 * (2097151 & h2) + (h1 >>> 0);
  }

  private tag(tag: number): this {
    this.feed(0x10000 + tag);
    return this;
  }
}
