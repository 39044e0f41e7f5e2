/**
 * WebSocket frames compared by meaning: a text frame that is JSON as JSON, with the ids a client
 * makes afresh each run left out (IGNORED_FRAME_FIELDS) and --match-ignore applied, audio by its
 * digest when the recording holds one; any other frame byte for byte. The answer is what differs,
 * field by field, as a replay miss reports it.
 */
import { audioDigest, audioField, isAudioMarker } from '../cassette/websocket.js';
import type { WebSocketFrame } from '../cassette/types.js';
import { parseJsonBody, removePaths, type JsonPath } from '../json-path.js';

/**
 * Left out of matching: `event_id` at any depth (clients number their events per run), and the
 * ids a client may give what it creates (`item.id` of conversation.item.create, the
 * `previous_item_id` that then points at one). `call_id` is kept: the server makes it, replay hands
 * back the recorded one, and a client answering another call is a real difference.
 */
export const IGNORED_FRAME_FIELDS = ['event_id', 'item.id', 'previous_item_id'] as const;

/** A frame a client sent: a message, or its close. */
export type ClientFrame = { text: string } | { binary: Buffer } | { close_code: number };

export interface FrameMatching {
  /** How each text is prepared on both sides (redaction, as for request bodies). */
  prepare: (text: string) => string;
  matchIgnore: readonly JsonPath[];
}

const SHOWN = 8;

/** What differs between the recorded client frame and the one that came; empty when they match. */
export function frameDifferences(recorded: WebSocketFrame, got: ClientFrame, matching: FrameMatching): string[] {
  const want = kindOf(recorded);
  const have = 'text' in got ? 'text' : 'binary' in got ? 'binary' : 'close';
  if (want !== have) return [`frame: the recording has a ${want} frame here, the client sent a ${have} frame`];
  if ('close_code' in got) return [];
  if ('binary' in got) {
    const bytes = Buffer.from(recorded.binary!);
    return bytes.equals(got.binary) ? [] : [`binary frame: ${bytes.length} bytes recorded, ${got.binary.length} sent, and they differ`];
  }
  const a = matching.prepare(recorded.text!);
  const b = matching.prepare(got.text);
  const left = parsed(a);
  const right = parsed(b);
  if (left === undefined || right === undefined) return a === b ? [] : [`text: ${shown(a)} recorded, ${shown(b)} sent`];
  for (const value of [left, right]) {
    leaveOut(value);
    removePaths(value, matching.matchIgnore);
  }
  // Audio the recording holds as a digest is compared by digest.
  const field = audioField(left);
  if (field && isAudioMarker((left as Record<string, unknown>)[field]) && audioField(right) === field) {
    const event = right as Record<string, unknown>;
    event[field] = audioDigest(event[field] as string);
  }
  const lines: string[] = [];
  differ(left, right, '', lines);
  return lines.length > SHOWN ? [...lines.slice(0, SHOWN), `and ${lines.length - SHOWN} more`] : lines;
}

function kindOf(frame: WebSocketFrame): 'text' | 'binary' | 'close' {
  return frame.text !== undefined ? 'text' : frame.binary !== undefined ? 'binary' : 'close';
}

function parsed(text: string): unknown {
  if (!/^\s*[{[]/.test(text)) return undefined;
  try {
    return parseJsonBody(text);
  } catch {
    return undefined;
  }
}

function leaveOut(value: unknown): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) return value.forEach(leaveOut);
  const obj = value as Record<string, unknown>;
  delete obj.event_id;
  delete obj.previous_item_id;
  const item = obj.item;
  if (item !== null && typeof item === 'object' && !Array.isArray(item)) delete (item as Record<string, unknown>).id;
  Object.values(obj).forEach(leaveOut);
}

/** Collects `path: recorded X, sent Y` for every leaf that differs. */
function differ(a: unknown, b: unknown, path: string, out: string[]): void {
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of keys) {
      const child = Array.isArray(a) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
      differ((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], child, out);
    }
    return;
  }
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  out.push(`${path || '(whole frame)'}: ${a === undefined ? 'absent' : shown(JSON.stringify(a))} recorded, ${b === undefined ? 'absent' : shown(JSON.stringify(b))} sent`);
}

function shown(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
