/**
 * The faults the proxy can inject, and how they are written: `rate-limit`, `slow-first-byte=500`,
 * several joined by commas (`slow-events=50,drop-after=3`), the same in `x-cassette-fault`, in a
 * rule and in a `--faults` file. A fault that replaces the answer (an error, a timeout) stands alone;
 * the others change how a streamed answer goes out and combine.
 */
import { ProxyError } from '../errors.js';

export type Fault =
  | { kind: 'rate-limit' }
  | { kind: 'server-error' }
  | { kind: 'overloaded' }
  | { kind: 'timeout' }
  | { kind: 'slow-first-byte'; ms: number }
  | { kind: 'slow-events'; ms: number }
  | { kind: 'drop-after'; events: number }
  | { kind: 'no-final-event' }
  | { kind: 'malformed-event' };

export type FaultKind = Fault['kind'];

/** Faults whose answer is not the recorded or upstream one at all. */
export const REPLACING: ReadonlySet<FaultKind> = new Set(['rate-limit', 'server-error', 'overloaded', 'timeout']);

/** Each fault, and what its value is, when it takes one. */
const CATALOGUE: Record<FaultKind, 'ms' | 'events' | undefined> = {
  'rate-limit': undefined,
  'server-error': undefined,
  overloaded: undefined,
  timeout: undefined,
  'slow-first-byte': 'ms',
  'slow-events': 'ms',
  'drop-after': 'events',
  'no-final-event': undefined,
  'malformed-event': undefined,
};

export const FAULT_KINDS = Object.keys(CATALOGUE) as FaultKind[];

/** Node's timers take at most 2^31-1 ms. */
const MAX_MS = 2 ** 31 - 1;

/**
 * Faults as written (`rate-limit`, `slow-first-byte=500,drop-after=3`); throws an `invalid_request`
 * ProxyError naming `where` (a header, a rule) that says what is wrong.
 */
export function parseFaults(text: string, where: string): Fault[] {
  const refuse = (problem: string): never => {
    throw new ProxyError('invalid_request', `${where}: ${problem}. The faults are ${FAULT_KINDS.map(written).join(', ')} (see docs/faults.md)`, { param: where });
  };
  const parts = text.split(',').map((part) => part.trim());
  if (parts.some((part) => part === '')) refuse(`${JSON.stringify(text)} names an empty fault`);
  const faults = parts.map((part): Fault => {
    const [name = '', value, extra] = part.split('=');
    const kind = name.trim().toLowerCase() as FaultKind;
    if (!(kind in CATALOGUE)) refuse(`unknown fault ${JSON.stringify(name)}`);
    const unit = CATALOGUE[kind];
    if (!unit) {
      if (value !== undefined) refuse(`${kind} takes no value`);
      return { kind } as Fault;
    }
    const n = Number(value);
    if (value === undefined || extra !== undefined || !/^\d+$/.test(value.trim()) || n > MAX_MS) {
      refuse(`${kind} needs a whole number of ${unit === 'ms' ? 'milliseconds' : 'events'}, 0 to ${MAX_MS}, as in ${kind}=${unit === 'ms' ? 500 : 3}`);
    }
    return unit === 'ms' ? ({ kind, ms: n } as Fault) : { kind: 'drop-after', events: n };
  });
  for (const [i, fault] of faults.entries()) {
    if (faults.findIndex((f) => f.kind === fault.kind) !== i) refuse(`${fault.kind} is given twice`);
  }
  const replacing = faults.find((f) => REPLACING.has(f.kind));
  if (replacing && faults.length > 1) refuse(`${replacing.kind} replaces the whole answer, so it cannot be combined with other faults`);
  return faults;
}

/** A fault as it is written, `slow-first-byte=500`: the log line's and the rules' spelling. */
export function faultText(fault: Fault): string {
  if ('ms' in fault) return `${fault.kind}=${fault.ms}`;
  if ('events' in fault) return `${fault.kind}=${fault.events}`;
  return fault.kind;
}

/** How the catalogue lists a fault: `slow-first-byte=<ms>`. */
function written(kind: FaultKind): string {
  const unit = CATALOGUE[kind];
  return unit === 'ms' ? `${kind}=<ms>` : unit === 'events' ? `${kind}=<n>` : kind;
}
