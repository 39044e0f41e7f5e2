/**
 * Preloaded into a proxy process by a test: replaces util._extend (deprecated, DEP0060) with a
 * spy that reports every call on stderr, so the test can see whether anything still calls it.
 */
import { createRequire } from 'node:module';

const util = createRequire(import.meta.url)('node:util') as { _extend: (a: object, b: object) => object };
util._extend = (target, source) => {
  process.stderr.write('util._extend was called\n');
  return Object.assign(target, source);
};
