/**
 * Runs in a worker thread (off-thread.ts): parses and checks a cassette, then posts its
 * interactions back a batch at a time, the next when asked: each is small enough to be taken in
 * at once, and the event loop runs between two. Then it waits for the next cassette.
 */
import { parentPort } from 'node:worker_threads';
import { ProxyError } from '../errors.js';
import { parseCassetteBytes } from './codec.js';
import type { WorkerAnswer, WorkerTask } from './off-thread.js';
import type { Interaction } from './types.js';

const port = parentPort!;
/** The cassette being sent, and where its next batch starts. */
let current: { interactions: Interaction[]; next: number; batch: number } | undefined;

/** The next batch of the current cassette, or `done` (the worker then waits for another cassette). */
function send(): void {
  if (!current) return;
  const { interactions, next, batch } = current;
  if (next >= interactions.length) {
    current = undefined;
    port.postMessage({ done: true } satisfies WorkerAnswer);
    return;
  }
  current.next += batch;
  port.postMessage({ interactions: interactions.slice(next, next + batch) } satisfies WorkerAnswer);
}

port.on('message', (message: WorkerTask | 'more') => {
  if (message === 'more') return send();
  const { bytes, file, batch } = message;
  try {
    current = { interactions: parseCassetteBytes(bytes, file).interactions, next: 0, batch };
  } catch (err) {
    port.postMessage((err instanceof ProxyError ? { invalid: err.message } : { failed: String((err as Error)?.message ?? err) }) satisfies WorkerAnswer);
    return;
  }
  send();
});
