/**
 * Loads http-proxy 1.18.1 without its DEP0060 warning. The library captures `util._extend` when
 * its modules load (Node 22+ warns on every call of that deprecated function); handing it an
 * equivalent of our own during that one `require` leaves `util` itself exactly as it was.
 */
import { createRequire } from 'node:module';
import type HttpProxy from 'http-proxy';

const require = createRequire(import.meta.url);

type UtilWithExtend = { _extend?: unknown };

let loaded: typeof HttpProxy | undefined;

export function loadHttpProxy(): typeof HttpProxy {
  if (loaded) return loaded;
  const util = require('node:util') as UtilWithExtend;
  const original = Object.getOwnPropertyDescriptor(util, '_extend');
  const extend = (target: object, source: object | null | undefined): object =>
    source === null || typeof source !== 'object' ? target : Object.assign(target, source);
  try {
    Object.defineProperty(util, '_extend', { value: extend, configurable: true, writable: true, enumerable: true });
  } catch {
    // A runtime where util is frozen: load as is, the warning is the only cost.
  }
  try {
    loaded = require('http-proxy') as typeof HttpProxy;
  } finally {
    if (original) Object.defineProperty(util, '_extend', original);
    else delete util._extend;
  }
  return loaded;
}
