/**
 * Server-sent event framing: where each event ends (at the blank line after it). Record mode uses
 * it to time events as they arrive, replay to send a recorded body back one event at a time.
 * Only boundaries are found, bytes are never changed, so a replayed body is byte-identical.
 */

const LF = 0x0a;
const CR = 0x0d;

export function isEventStream(contentType: string | string[] | undefined): boolean {
  const value = Array.isArray(contentType) ? contentType[0] : contentType;
  return value !== undefined && value.toLowerCase().startsWith('text/event-stream');
}

/**
 * Finds event ends across chunks; a line ends at CR, LF or CRLF, an event at an empty line.
 * A CRLF split across two chunks ends the event at its CR: the LF then leads the next piece, which
 * changes where a replayed stream is cut, never its bytes.
 */
export class EventBoundaries {
  private lineLength = 0;
  private eventHasLines = false;
  private afterCR = false;

  /** Calls `onEnd` with the index just past each event's terminating blank line in `chunk`. */
  scan(chunk: Uint8Array, onEnd: (endIndex: number) => void): void {
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (byte === LF && this.afterCR) {
        this.afterCR = false; // the LF of a CRLF: the line ended at the CR
        continue;
      }
      this.afterCR = byte === CR;
      if (byte !== LF && byte !== CR) {
        this.lineLength++;
        continue;
      }
      if (this.lineLength > 0) this.eventHasLines = true;
      else if (this.eventHasLines) {
        this.eventHasLines = false;
        onEnd(byte === CR && chunk[i + 1] === LF ? i + 2 : i + 1);
      }
      this.lineLength = 0;
    }
  }
}

/** Splits a whole SSE body into its events, each with its blank line; a trailing partial event comes last. */
export function splitEvents(body: Uint8Array): Uint8Array[] {
  return splitWith(body, new EventBoundaries());
}

/** Splits a whole body where `boundaries` finds each unit's end (an SSE event, an AWS message); a trailing partial unit comes last. */
export function splitWith(body: Uint8Array, boundaries: { scan(chunk: Uint8Array, onEnd: (end: number) => void): void }): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let start = 0;
  boundaries.scan(body, (end) => {
    parts.push(body.subarray(start, end));
    start = end;
  });
  if (start < body.length) parts.push(body.subarray(start));
  return parts;
}

/** What ends a complete stream: an event whose `data` is one of `data`, or whose `event` type is one of `event`. */
export interface FinalEvents {
  data?: readonly string[];
  event?: readonly string[];
}

/** A test for the final event of a stream. */
export function finalEventTest({ data = [], event = [] }: FinalEvents): (bytes: Uint8Array) => boolean {
  if (data.length === 0 && event.length === 0) return () => false;
  return (bytes) => {
    for (const line of Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8').split(/\r\n|\r|\n/)) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const field = line.slice(0, colon);
      const value = line.slice(colon + 1).replace(/^ /, '');
      if ((field === 'data' && data.includes(value)) || (field === 'event' && event.includes(value))) return true;
    }
    return false;
  };
}
