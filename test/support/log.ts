/** A logger whose lines a test can read back, parsed. */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log.js';

export interface CapturedLog {
  log: Logger;
  /** The raw text written so far. */
  text(): string;
  /** Every line so far, parsed. */
  lines(): Record<string, unknown>[];
}

export function capturedLog(): CapturedLog {
  let text = '';
  const out = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return {
    log: createLogger('debug', out),
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
