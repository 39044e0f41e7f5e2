/**
 * Preloaded into a proxy under test (`node --expose-gc --import gc-hook.js`): on SIGUSR2, a full
 * garbage collection, then the process's resident memory and its live heap (V8's heap in use and
 * the memory outside it that JS objects hold; bytes, one JSON line) written to the file named by
 * BENCH_GC_FILE, so that the bench reads what a cassette holds rather than what it left to collect.
 */
import { renameSync, writeFileSync } from 'node:fs';

const file = process.env.BENCH_GC_FILE!;
const gc = (globalThis as { gc?: () => void }).gc!;
process.on('SIGUSR2', () => {
  gc();
  // Written aside and renamed, so that the bench never reads half a file.
  const { rss, heapUsed, external } = process.memoryUsage();
  writeFileSync(`${file}.part`, JSON.stringify({ rss, live: heapUsed + external }));
  renameSync(`${file}.part`, file);
});
