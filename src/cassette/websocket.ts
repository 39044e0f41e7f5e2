/**
 * Audio in WebSocket frames (--ws-audio digest): the base64 audio of an audio event kept as its
 * digest, a marker string in place of the payload, so that the frame stays the same JSON event.
 * Recording writes markers, matching compares a client's audio by its marker, and replay sends a
 * server's marked audio as silence of the recorded length.
 */
import { createHash } from 'node:crypto';

/** The field that holds base64 audio, by event type (Realtime API; `response.audio.delta` is the beta name). */
export const AUDIO_FIELDS: Readonly<Record<string, string>> = {
  'input_audio_buffer.append': 'audio',
  'response.output_audio.delta': 'delta',
  'response.audio.delta': 'delta',
};

const MARKER = /^cassette-proxy:audio;sha256=([0-9a-f]{64});bytes=(\d{1,10})$/;

/** The marker of a base64 payload: the SHA-256 of its text and the length of the audio it decodes to. */
export function audioDigest(base64: string): string {
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0;
  const bytes = Math.max(0, Math.floor((base64.length * 3) / 4) - padding);
  return `cassette-proxy:audio;sha256=${createHash('sha256').update(base64).digest('hex')};bytes=${bytes}`;
}

/** Whether a string is a digest marker. */
export function isAudioMarker(value: unknown): boolean {
  return typeof value === 'string' && MARKER.test(value);
}

/** A marker in a hand-edited cassette may claim any length: silence is made for at most this much. */
const MAX_SILENCE = 64 * 1024 * 1024;

/** The decoded length a marker records; undefined for a string that is not a marker (or claims more than MAX_SILENCE). */
export function markedLength(value: string): number | undefined {
  const match = MARKER.exec(value);
  const length = match ? Number(match[2]) : undefined;
  return length !== undefined && length <= MAX_SILENCE ? length : undefined;
}

/** The audio field of a parsed event, when it is an audio event holding a string there. */
export function audioField(event: unknown): string | undefined {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return undefined;
  const type = (event as Record<string, unknown>).type;
  const field = typeof type === 'string' ? AUDIO_FIELDS[type] : undefined;
  return field !== undefined && typeof (event as Record<string, unknown>)[field] === 'string' ? field : undefined;
}

/** A text frame with its audio payload replaced by its marker; the same text when it holds no audio event. */
export function digestAudioFrame(text: string): string {
  if (!text.includes('audio')) return text;
  const event = parseObject(text);
  const field = audioField(event);
  if (!event || !field) return text;
  event[field] = audioDigest(event[field] as string);
  return JSON.stringify(event);
}

/** A text frame whose audio marker became silence (zero bytes) of the recorded length; the same text otherwise. */
export function silenceForMarker(text: string): string {
  if (!text.includes('cassette-proxy:audio')) return text;
  const event = parseObject(text);
  const field = audioField(event);
  const length = field === undefined ? undefined : markedLength(event![field] as string);
  if (length === undefined) return text;
  event![field!] = Buffer.alloc(length).toString('base64');
  return JSON.stringify(event);
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
