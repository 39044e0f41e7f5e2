/**
 * The structured logger: pino JSON lines on stderr (readable, coloured lines when stderr is a
 * terminal), with secret-bearing fields censored as a last guard.
 */
import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';

const require = createRequire(import.meta.url);

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The longest a log line waits in the buffer. */
const FLUSH_EVERY_MS = 200;

export function createLogger(level: LogLevel = 'info', destination?: NodeJS.WritableStream): Logger {
  // Off a terminal, lines are buffered and written asynchronously: a synchronous write per exchange
  // (what process.stderr does on a pipe) costs more than the exchange itself. The buffer goes out
  // when it holds 4 KB or every 200 ms, so a quiet proxy's lines are not held back; pino flushes at exit.
  const out =
    destination ??
    (process.stderr.isTTY ? prettyStream() : pino.destination({ dest: 2, sync: false, minLength: 4096, periodicFlush: FLUSH_EVERY_MS }));
  return pino(
    {
      level,
      base: undefined,
      redact: { paths: ['headers.authorization', 'headers["api-key"]', 'headers["x-api-key"]', 'headers.cookie'], censor: '[REDACTED]' },
    },
    out,
  );
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** The fields of an exchange's line, which a terminal shows as one sentence rather than as an object. */
const EXCHANGE_FIELDS = ['method', 'path', 'mode', 'outcome', 'status', 'duration_ms', 'cassette', 'upstream', 'error', 'detail'] as const;
type LogRecord = Partial<Record<(typeof EXCHANGE_FIELDS)[number] | 'msg', unknown>>;

/**
 * One line per log record on a terminal: an exchange reads `POST /v1/chat/completions recorded 200
 * 812.3 ms cassettes/default.yaml`, a miss adds its explanation; other records keep their fields on
 * the same line. pino-pretty is loaded only for a terminal: a container never pays for it.
 */
function prettyStream(): NodeJS.WritableStream {
  const pretty = require('pino-pretty') as (options: Record<string, unknown>) => NodeJS.WritableStream;
  return pretty({
    destination: 2,
    colorize: true,
    translateTime: 'SYS:HH:MM:ss.l',
    singleLine: true,
    ignore: EXCHANGE_FIELDS.join(','),
    messageFormat: (record: LogRecord) => {
      if (record.outcome === undefined) return `${String(record.msg ?? '')}${record.method ? ` (${String(record.method)} ${String(record.path)})` : ''}`;
      const { method, path, outcome, status, duration_ms, cassette, error, detail } = record;
      return `${String(method)} ${String(path)} ${String(outcome)} ${String(status)} ${String(duration_ms)} ms ${String(cassette)}${error ? ` ${String(error)}` : ''}${detail ? `: ${String(detail)}` : ''}`;
    },
  });
}
