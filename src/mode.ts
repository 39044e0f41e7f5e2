/** Modes, and the one table that says what each does with a request. */
export const MODES = ['record', 'replay'] as const;
export type Mode = (typeof MODES)[number];

export interface ModePolicy {
  /** Answer from the cassette. */
  replay: boolean;
  /** Send the request upstream (in replay modes: only when no recording matched). */
  forward: boolean;
  /** Save the exchange into the cassette. */
  record: boolean;
}

export const MODE_POLICY: Record<Mode, ModePolicy> = {
  record: { replay: false, forward: true, record: true },
  replay: { replay: true, forward: false, record: false },
};
