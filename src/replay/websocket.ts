/**
 * Replays a recorded WebSocket session to a client: the server's frames in recorded order, each
 * once the client frame that preceded it in the recording has arrived and matched (match/frames.ts),
 * at once or at the recorded pace (each server frame its recorded time after the client frame
 * before it, divided by the speed). A client frame that matches nothing, or a client that stays silent for --ws-idle-timeout
 * while the recording waits for it, gets an `error` event in its API's shape naming the cassette,
 * the recorded frame and what differs, then a 1008 close: the proxy never leaves a client hanging.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket, { type RawData } from 'ws';
import { silenceForMarker } from '../cassette/websocket.js';
import type { Interaction, WebSocketFrame } from '../cassette/types.js';
import { ProxyError } from '../errors.js';
import { closeWith, type SessionEnd } from '../forward/websocket.js';
import type { JsonPath } from '../json-path.js';
import { frameDifferences, type ClientFrame } from '../match/frames.js';
import type { Pacing } from './responder.js';

export interface SessionReplay {
  /** The cassette as errors show it. */
  cassette: string;
  pacing: Pacing;
  /** How long the client may stay silent while the recording waits for its frame. */
  idleMs: number;
  matchIgnore: readonly JsonPath[];
  /** How a text frame is prepared for matching, on both sides. */
  prepare: (text: string) => string;
  /** The error event a client of this API understands, for the client event that caused it (if it was JSON). */
  errorEvent: (error: ProxyError, clientEvent: Record<string, unknown> | undefined) => string;
}

type Arrival = { frame: ClientFrame; event?: Record<string, unknown> } | 'idle';

export async function replaySession(client: WebSocket, interaction: Interaction, options: SessionReplay): Promise<SessionEnd> {
  const frames = interaction.cassette_proxy!.websocket!.frames;
  const counts = { client: 0, server: 0 };
  const queue: ClientFrame[] = [];
  let wake: (() => void) | undefined;
  client.on('message', (data: RawData, isBinary: boolean) => {
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    counts.client++;
    queue.push(isBinary ? { binary: bytes } : { text: bytes.toString('utf8') });
    wake?.();
  });
  client.on('error', () => undefined); // its close follows
  const closed = new Promise<number>((resolve) =>
    client.once('close', (code) => {
      queue.push({ close_code: code });
      wake?.();
      resolve(code);
    }),
  );
  const next = async (): Promise<Arrival> => {
    const deadline = performance.now() + options.idleMs;
    while (queue.length === 0) {
      const wait = deadline - performance.now();
      if (wait <= 0) return 'idle';
      const done = new AbortController();
      await Promise.race([new Promise<void>((resolve) => (wake = resolve)), sleep(wait, undefined, { signal: done.signal }).catch(() => undefined)]);
      done.abort();
      wake = undefined;
    }
    const frame = queue.shift()!;
    return { frame, event: 'text' in frame ? eventOf(frame.text) : undefined };
  };
  const end = async (ended: string, complete: boolean, miss = false): Promise<SessionEnd> => {
    await closed;
    return { complete, frames: counts, ended, ...(miss && { miss }) };
  };
  const paced = options.pacing.latency === 'recorded';
  // Server frames keep their recorded offsets from the last client frame (or the 101): absolute
  // deadlines, so that timer lateness does not add up over a burst of deltas.
  let anchorAt = 0;
  let anchorReal = performance.now();

  for (const [index, frame] of frames.entries()) {
    if (frame.from === 'server') {
      if (paced) await waitUntil(anchorReal + (frame.at_ms - anchorAt) / options.pacing.speed);
      if (client.readyState !== WebSocket.OPEN) return end('client closed before the recording ended', false);
      if (frame.close_code !== undefined) {
        closeWith(client, frame.close_code === 1005 ? undefined : frame.close_code, frame.close_reason ?? '');
        return end(`replayed the server's close ${frame.close_code}`, true);
      }
      counts.server++;
      if (frame.binary !== undefined) client.send(frame.binary, { binary: true });
      else client.send(silenceForMarker(frame.text!));
      continue;
    }
    const arrival = await next();
    if (arrival === 'idle') {
      const error = new ProxyError(
        'cassette_miss',
        `cassette-proxy replay: the client sent nothing for ${options.idleMs / 1000} s (--ws-idle-timeout) while ${options.cassette}, interaction ${interaction.id}, waits for its frame ${index} (${describe(frame)}).`,
      );
      return fail(error, undefined, 'client idle');
    }
    const differences = frameDifferences(frame, arrival.frame, { prepare: options.prepare, matchIgnore: options.matchIgnore });
    if ('close_code' in arrival.frame && differences.length > 0) return end('client closed before the recording ended', false);
    if (differences.length > 0) {
      const error = new ProxyError(
        'cassette_miss',
        `cassette-proxy replay: no recording in ${options.cassette} matches this client frame. Nearest is interaction ${interaction.id}, frame ${index} (${describe(frame)}), which differs in ${differences.length} field${differences.length === 1 ? '' : 's'}: ${differences.join('; ')}. Record this session again (--mode record), or leave a changing field out with --match-ignore.`,
      );
      return fail(error, arrival.event, 'cassette_miss');
    }
    if ('close_code' in arrival.frame) return end('client closed as recorded', true);
    anchorAt = frame.at_ms;
    anchorReal = performance.now();
  }
  // The recording ended with the client's close, already matched, or holds no close at all.
  closeWith(client, 1000, '');
  return end('recording replayed', true);

  async function fail(error: ProxyError, event: Record<string, unknown> | undefined, why: string): Promise<SessionEnd> {
    if (client.readyState === WebSocket.OPEN) {
      client.send(options.errorEvent(error, event));
      closeWith(client, 1008, why);
    }
    return end(error.message, false, true);
  }
}

/** A frame as an error names it: its event type when it is a JSON event. */
function describe(frame: WebSocketFrame): string {
  if (frame.close_code !== undefined) return `the client's close ${frame.close_code}`;
  if (frame.binary !== undefined) return `a binary frame of ${frame.binary.length} bytes`;
  const type = eventOf(frame.text!)?.type;
  return typeof type === 'string' ? type : 'a text frame';
}

function eventOf(text: string): Record<string, unknown> | undefined {
  if (!text.startsWith('{') || text.length > 1 << 20) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function waitUntil(deadline: number): Promise<void> | undefined {
  const wait = deadline - performance.now();
  return wait > 0 ? sleep(wait) : undefined;
}
