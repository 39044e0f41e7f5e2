/** Modes, and the one table that says what each does with a request. */

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
