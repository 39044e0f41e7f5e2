/**
 * A large cassette parsed in a worker thread, so that loading it never holds the event loop: js-yaml
 * parses a whole document at once (in slices cut at item lines it parsed about three times
 * slower), and the YAML tree, several times the file's size, lives and dies in the worker. The
 * interactions come back a batch at a time, each taken in by one short callback, the next asked
 * for after other callbacks had their turn; the caller indexes a batch while the next is on its
 * way. A file up to OFF_THREAD_BYTES is parsed in place (a worker costs tens of milliseconds to
 * start). A broken cassette fails before the first batch, with parseCassetteBytes' error (the line
 * and column of a YAML error); a worker that fails itself (out of memory, say) is a
 * cassette_unavailable error: the next request tries again.
 */
import { Worker } from 'node:worker_threads';
import { ProxyError } from '../errors.js';
import { parseCassetteBytes } from './codec.js';
import type { Interaction } from './types.js';

/** Above this size a cassette is parsed in a worker: about 15 ms of parsing in place. */
export const OFF_THREAD_BYTES = 256 * 1024;
/** Interactions per message: a few milliseconds to take in. */
const BATCH = 256;

export interface WorkerTask {
  bytes: Uint8Array;
  file: string;
  batch: number;
}

export type WorkerAnswer = { interactions: Interaction[] } | { done: true } | { invalid: string } | { failed: string };

/** The interactions of the cassette in `bytes`, as parseCassetteBytes reads them, in batches; in a worker above `threshold` bytes. */
export async function* cassetteBatches(bytes: Uint8Array, file: string, threshold = OFF_THREAD_BYTES): AsyncGenerator<Interaction[]> {
  if (bytes.byteLength <= threshold) {
    yield parseCassetteBytes(bytes, file).interactions;
    return;
  }
  const worker = new Worker(new URL('./parse-worker.js', import.meta.url));
  const answers: WorkerAnswer[] = [];
  let wake: (() => void) | undefined;
  const arrive = (answer: WorkerAnswer): void => {
    answers.push(answer);
    wake?.();
  };
  worker.on('message', arrive);
  worker.once('error', (err) => arrive({ failed: err.message }));
  worker.once('exit', (code) => arrive({ failed: `it stopped (exit code ${code})` }));
  try {
    worker.postMessage({ bytes, file, batch: BATCH } satisfies WorkerTask);
    for (;;) {
      while (answers.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      const answer = answers.shift()!;
      if ('done' in answer) return;
      if ('invalid' in answer) throw new ProxyError('cassette_invalid', answer.invalid);
      if ('failed' in answer) {
        throw new ProxyError('cassette_unavailable', `cassette-proxy replay: cassette ${file} could not be parsed just now (the worker parsing it failed: ${answer.failed}); the next request reads it again`);
      }
      // The next batch once other callbacks have had their turn.
      setImmediate(() => worker.postMessage('more'));
      yield answer.interactions;
    }
  } finally {
    worker.removeAllListeners();
    void worker.terminate();
  }
}
