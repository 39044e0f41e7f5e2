/**
 * An exchange: one request to the proxy, from its arrival to its log line. Every stage reads and
 * adds to the same object: routing chooses its upstream, naming its cassette file, replay or
 * forwarding its answer, forwarding (when recording) the copy of its bytes, the recorder turns that
 * copy into an interaction, and the log line and metrics say how it ended.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Interaction, WebSocketSession } from '../cassette/types.js';
import type { Outcome } from '../metrics.js';
import type { Mode } from '../mode.js';
import type { Upstream } from '../providers/profile.js';

/** The response as the upstream sent it, copied for the cassette. */
export interface CapturedResponse {
  httpVersionMajor: number;
  httpVersionMinor: number;
  statusCode: number;
  statusMessage: string;
  /** Node's rawHeaders: [name, value, name, value, …] in arrival order. */
  rawHeaders: readonly string[];
  body: Buffer;
  /** Node's rawTrailers, the fields after a chunked body, in the same form; none when absent. */
  rawTrailers?: readonly string[];
  /** True when `body` was decoded from the response's Content-Encoding. */
  decoded: boolean;
}

/** The copy of a completed exchange's bytes, as forwarding made it: what record/capture.ts turns into an interaction. */
export interface Capture {
  method: string;
  /** The full upstream URL the request went to. */
  url: string;
  rawHeaders: readonly string[];
  body: Buffer;
  response: CapturedResponse;
  /** From sending the request until the response headers arrived, as go-vcr measures. */
  durationNs: bigint;
  /** For SSE: when each event had arrived, in ms after the response headers. */
  eventOffsetsMs?: number[];
  /** For a WebSocket session (its response is the `101`): its frames. */
  websocket?: WebSocketSession;
}

/** A recording that answers a replay miss in its stead (`--on-miss nearest`), and what differs, as the miss's error would list it. */
export interface NearAnswer {
  interaction: Interaction;
  differences: string[];
}

export class Exchange {
  readonly started = performance.now();
  /** How it ended, as far as the stages know; the log line settles it (a failed answer is an error whatever this says). */
  outcome: Outcome | undefined = undefined;
  /** A replay miss answered by its nearest recording: logged at warn with what differs. */
  nearest: NearAnswer | undefined = undefined;
  /** The copy of its bytes once it completed, when its mode records; the recorder takes it. */
  capture: Capture | undefined = undefined;
  /** The faults injected into its answer (src/faults/), as its log line shows them: a faulted exchange is never recorded. */
  fault: string | undefined = undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly mode: Mode,
    readonly upstream: Upstream,
    /** The cassette file it uses: the default one's until the name it gives is resolved to a real path. */
    public file: string,
  ) {}
}

/**
 * The header that names a request's cassette. The proxy takes it (and FAULT_HEADER) off the request
 * as it reads it: it is then neither forwarded, nor matched, nor recorded.
 */
export const CASSETTE_HEADER = 'x-cassette';

/** The header that asks for faults in a request's answer (src/faults/); taken off the same way. */
export const FAULT_HEADER = 'x-cassette-fault';

/** The `x-cassette` value of a request (repeated ones joined), taken off the request; undefined when it gives none. */
export function takeCassetteHeader(req: IncomingMessage): string | undefined {
  return takeHeader(req, CASSETTE_HEADER);
}

/** The `x-cassette-fault` value of a request (repeated ones joined), taken off the request; undefined when it gives none. */
export function takeFaultHeader(req: IncomingMessage): string | undefined {
  return takeHeader(req, FAULT_HEADER);
}

function takeHeader(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  if (value === undefined) return undefined;
  delete req.headers[name];
  const raw = req.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) if (raw[i]!.toLowerCase() === name) raw.splice(i, 2);
  return Array.isArray(value) ? value.join(',') : value;
}
