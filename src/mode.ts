/** Modes, the one table that says what each does with a request, and the replay settings' values. */

export const MODES = ['record', 'replay', 'replay-or-record', 'passthrough'] as const;
export type Mode = (typeof MODES)[number];

export interface ModePolicy {
  /** Look for a recording first. */
  replay: boolean;
  /** Send the request upstream (after replay: only when no recording matched). */
  forward: boolean;
  /** Save forwarded exchanges into the cassette. */
  record: boolean;
}

export const MODE_POLICY: Record<Mode, ModePolicy> = {
  record: { replay: false, forward: true, record: true },
  replay: { replay: true, forward: false, record: false },
  'replay-or-record': { replay: true, forward: true, record: true },
  passthrough: { replay: false, forward: true, record: false },
};

/** Replay: `strict` answers with each recording once (go-vcr's rule), `repeat` then repeats the last. */
export const REPLAY_POLICIES = ['repeat', 'strict'] as const;
export type ReplayPolicy = (typeof REPLAY_POLICIES)[number];

/** Replay, a request that matches no recording: `error` (a 404 cassette_miss), or `nearest` (its nearest recording, within --nearest-max-diffs). */
export const ON_MISS = ['error', 'nearest'] as const;
export type OnMiss = (typeof ON_MISS)[number];

/** WebSocket audio payloads in cassettes: kept whole, or as length plus SHA-256 (cassette/websocket.ts). */
export const WS_AUDIO = ['full', 'digest'] as const;
export type WsAudio = (typeof WS_AUDIO)[number];

/** Replay pacing: `none` answers at once, `recorded` keeps the recorded time to headers and event gaps. */
export const REPLAY_LATENCIES = ['none', 'recorded'] as const;
export type ReplayLatency = (typeof REPLAY_LATENCIES)[number];
