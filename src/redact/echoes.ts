/**
 * Echoes of redacted values that a saved event stream holds in pieces. A model quoting a prompt
 * streams it a few words per event (`choices[0].delta.content`, a Responses API `delta`), so no
 * event holds it whole. The string values at one JSON path (array positions included) are read as
 * one text across the events; each value found there is masked in the pieces it spans: its marker
 * goes where it starts, and the rest of it is taken out. Events keep their number, order and
 * boundaries, so `event_offsets_ms` still times them; only an event that held part of an echo is
 * written again, its `data:` line as compact JSON.
 */
import { parseJsonBody } from '../json-path.js';
import { splitEvents } from '../sse.js';
import type { Mark } from './marker.js';

interface Piece {
  /** The object or array holding the string, and its key there. */
  holder: Record<string | number, unknown>;
  key: string | number;
  text: string;
  event: ParsedEvent;
}

interface ParsedEvent {
  value: unknown;
  /** Where the JSON of its one `data:` line starts and ends in the event's text. */
  start: number;
  end: number;
  changed: boolean;
}

/** One `data:` line whose value is a JSON object or array; events with several are left as they are. */
const DATA_LINE = /(?:^|[\r\n])data: ?([[{][^\r\n]*)/g;

/** The stream with every value of `values` that its pieces spell across events masked. */
export function maskSplitEchoes(body: string, values: readonly string[], mark: Mark): string {
  const texts = splitEvents(Buffer.from(body, 'utf8')).map((event) => Buffer.from(event).toString('utf8'));
  const parsed = texts.map(parseEvent);
  const byPath = new Map<string, Piece[]>();
  for (const event of parsed) if (event) collect(event.value, '', event, byPath);
  // Longest first: a value that holds another is masked whole.
  const ordered = [...values].sort((a, b) => b.length - a.length);
  for (const pieces of byPath.values()) maskAcross(pieces, ordered, mark);
  if (!parsed.some((event) => event?.changed)) return body;
  return texts.map((text, i) => {
    const event = parsed[i];
    return event?.changed ? `${text.slice(0, event.start)}${JSON.stringify(event.value)}${text.slice(event.end)}` : text;
  }).join('');
}

function parseEvent(text: string): ParsedEvent | undefined {
  const lines = [...text.matchAll(DATA_LINE)];
  if (lines.length !== 1) return undefined;
  const line = lines[0]!;
  const start = line.index + line[0].length - line[1]!.length;
  try {
    return { value: parseJsonBody(line[1]!), start, end: start + line[1]!.length, changed: false };
  } catch {
    // Not JSON, or nested too deep to walk: left as it is.
    return undefined;
  }
}

/** Every string in `value`, by its path (`choices.0.delta.content`), in order. */
function collect(value: unknown, path: string, event: ParsedEvent, byPath: Map<string, Piece[]>): void {
  if (value === null || typeof value !== 'object') return;
  const holder = value as Record<string | number, unknown>;
  for (const key of Array.isArray(value) ? value.keys() : Object.keys(value)) {
    const child = holder[key];
    const at = `${path}.${key}`;
    if (typeof child !== 'string') collect(child, at, event, byPath);
    else if (child !== '') {
      const pieces = byPath.get(at);
      const piece = { holder, key, text: child, event };
      if (pieces) pieces.push(piece);
      else byPath.set(at, [piece]);
    }
  }
}

/** Masks each value found in the pieces' joined text. */
function maskAcross(pieces: Piece[], values: readonly string[], mark: Mark): void {
  const joined = pieces.map((piece) => piece.text).join('');
  const found: { start: number; end: number; value: string }[] = [];
  for (const value of values) {
    for (let at = joined.indexOf(value); at !== -1; at = joined.indexOf(value, at + value.length)) {
      const end = at + value.length;
      if (!found.some((f) => at < f.end && f.start < end)) found.push({ start: at, end, value });
    }
  }
  if (found.length === 0) return;
  let offset = 0;
  for (const piece of pieces) {
    const from = offset;
    const to = (offset += piece.text.length);
    let text = '';
    let at = from;
    for (const f of found.filter((f) => f.start < to && from < f.end).sort((a, b) => a.start - b.start)) {
      if (f.start > at) text += joined.slice(at, f.start);
      if (f.start >= from) text += mark(f.value);
      at = Math.min(f.end, to);
    }
    if (at === from) continue;
    text += joined.slice(at, to);
    piece.holder[piece.key] = text;
    piece.event.changed = true;
  }
}
