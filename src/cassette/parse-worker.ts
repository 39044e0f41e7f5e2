/**
 * Runs in a worker thread (off-thread.ts): parses and checks one cassette, then posts its
 * interactions back a batch at a time, the next when asked: each is small enough to be taken in
 * at once, and the event loop runs between two.
 */
import { parentPort } from 'node:worker_threads';
import { ProxyError } from '../errors.js';
import { parseCassetteBytes } from './codec.js';
import type { WorkerAnswer, WorkerTask } from './off-thread.js';
import type { Interaction } from './types.js';

const port = parentPort!;
port.once('message', ({ bytes, file, batch }: WorkerTask) => {
  let interactions: Interaction[];
  try {
    interactions = parseCassetteBytes(bytes, file).interactions;
  } catch (err) {
    port.postMessage((err instanceof ProxyError ? { invalid: err.message } : { failed: String((err as Error)?.message ?? err) }) satisfies WorkerAnswer);
    return;
  }
  let next = 0;
  const send = (): void => {
    port.postMessage((next < interactions.length ? { interactions: interactions.slice(next, (next += batch)) } : { done: true }) satisfies WorkerAnswer);
  };
  port.on('message', send);
  send();
});
