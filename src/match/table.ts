/**
 * The match index of one cassette: request key → the recordings with that key, in file order.
 * A lookup is one hash of the incoming request and one map access; recorded requests are parsed
 * once, when the cassette loads, and a miss finds its nearest recording through the index of
 * their fingerprints (nearest.ts), parsing one recording only to say what differs. Replay policies:
 *  - strict: each recording answers once, as go-vcr does; after the last, a miss that says so;
 *  - repeat: in recorded order, then the last one again and again.
 */
import type { Interaction } from '../cassette/types.js';
import type { ReplayPolicy } from '../mode.js';
import type { Pacer } from '../pace.js';
import { differences } from './diff.js';
import { fingerprint } from './fingerprint.js';
import { NearestIndexBuilder, type NearestIndex } from './nearest.js';
import type { RequestView, RequestViewer } from './request-view.js';

export type Lookup =
  | { kind: 'hit'; interaction: Interaction }
  | { kind: 'exhausted'; recordings: number }
  /** The nearest recording is searched for when asked (a miss that is forwarded never asks); none in an empty cassette. */
  | { kind: 'miss'; nearest: () => Nearest | undefined };

export interface Nearest {
  interaction: Interaction;
  /** How many fields differ, as fingerprints count them (fingerprint.ts). */
  fields: number;
  /** What differs, field by field: parses this one recording, so only for a miss that is answered as one. */
  differences: () => string[];
  /**
   * Counts this recording as replayed (the usage report) when it answers the miss
   * (`--on-miss nearest`). It is not used up: under `strict` its own request still gets it.
   */
  answered: () => void;
}

interface Slot {
  /** Positions in `interactions`, in file order. */
  positions: number[];
  next: number;
}

export class MatchTable {
  private readonly slots: Map<string, Slot>;
  private readonly timesReplayed: number[];
  /** The key of each interaction, by position. */
  private readonly keys: string[];
  private readonly nearestIndex: NearestIndex;
  /**
   * Requests asked of this cassette since it loaded or was rewound, hits and misses alike: the
   * position in file order where the next request's own recording is when a suite runs as it was
   * recorded. A miss's nearest candidates that tie prefer the recording there.
   */
  private asked = 0;
  /** Whether a recording holds a bare redaction marker (RequestViewer.recordedKey): a miss then tries the bare key. */
  private bare = false;

  /**
   * The table of the interactions in `batches`, in file order: every recorded request is viewed
   * once; `pace` lets other requests run between steps, so that indexing a large cassette does
   * not hold the event loop.
   */
  static async build(batches: AsyncIterable<readonly Interaction[]>, viewer: RequestViewer, policy: ReplayPolicy, pace: Pacer): Promise<MatchTable> {
    const index = new TableIndex(viewer);
    const interactions: Interaction[] = [];
    for await (const batch of batches) {
      for (const interaction of batch) {
        interactions.push(interaction);
        index.add(interaction);
        await pace.turn();
      }
    }
    return new MatchTable(interactions, viewer, policy, index);
  }

  constructor(
    readonly interactions: readonly Interaction[],
    private readonly viewer: RequestViewer,
    private readonly policy: ReplayPolicy,
    index = TableIndex.of(interactions, viewer),
  ) {
    this.timesReplayed = interactions.map(() => 0);
    this.keys = index.keys;
    this.slots = index.slots;
    this.nearestIndex = index.prints.build();
    this.bare = index.bare;
  }

  /** The next recording for a request whose match key (`viewer.key` of its view) is `key`; the view is asked for only on a miss. */
  take(key: string, view: () => RequestView): Lookup {
    const own = this.asked++;
    const slot = this.slots.get(key) ?? (this.bare ? this.slots.get(this.viewer.bareKey(key)) : undefined);
    if (!slot) {
      let found: { nearest?: Nearest } | undefined;
      return { kind: 'miss', nearest: () => (found ??= { nearest: this.nearest(view(), own) }).nearest };
    }
    let index = slot.next;
    if (index >= slot.positions.length) {
      if (this.policy === 'strict') return { kind: 'exhausted', recordings: slot.positions.length };
      index = slot.positions.length - 1;
    } else {
      slot.next++;
    }
    const position = slot.positions[index]!;
    this.timesReplayed[position]! += 1;
    return { kind: 'hit', interaction: this.interactions[position]! };
  }

  /**
   * Carries the replay state over from the table of an earlier version of the same file, when
   * the new file begins with the same requests (it was appended to, by replay-or-record most
   * often): recordings already used stay used. Any other change starts the counts over.
   */
  inherit(previous: MatchTable): void {
    if (previous.keys.length > this.keys.length || previous.keys.some((key, i) => key !== this.keys[i])) return;
    previous.timesReplayed.forEach((n, i) => (this.timesReplayed[i] = n));
    this.asked = previous.asked;
    for (const [key, slot] of previous.slots) {
      const now = this.slots.get(key);
      if (now) now.next = slot.next;
    }
  }

  /**
   * Back to the first recording of each request, so the next run of a suite gets the answers the
   * last one got, in the same order. What has been replayed stays counted (the usage report).
   */
  rewind(): void {
    this.asked = 0;
    for (const slot of this.slots.values()) slot.next = 0;
  }

  /** How many recordings have answered at least once, and how many never did. */
  usage(): { interactions: number; replayed: number; neverReplayed: number } {
    const replayed = this.timesReplayed.filter((n) => n > 0).length;
    return { interactions: this.interactions.length, replayed, neverReplayed: this.interactions.length - replayed };
  }

  /**
   * The recordings that never answered, in file order, among the first `end` (by default all):
   * what a suite no longer asks for, which `cassette-proxy prune` can remove.
   */
  neverReplayed(end = this.interactions.length): Interaction[] {
    return this.interactions.slice(0, end).filter((_, position) => this.timesReplayed[position] === 0);
  }

  private nearest(request: RequestView, own: number): Nearest | undefined {
    const near = this.nearestIndex.nearest(fingerprint(request), own);
    if (!near) return undefined;
    const interaction = this.interactions[near.position]!;
    let lines: string[] | undefined;
    return {
      interaction,
      fields: near.fields,
      differences: () => (lines ??= differences(this.viewOf(interaction), request)),
      answered: () => void (this.timesReplayed[near.position]! += 1),
    };
  }

  private viewOf(interaction: Interaction): RequestView {
    return viewOf(interaction, this.viewer);
  }
}

/** What a table knows of its recordings, built one recording at a time, in file order. */
class TableIndex {
  readonly keys: string[] = [];
  readonly slots = new Map<string, Slot>();
  readonly prints = new NearestIndexBuilder();
  /** Whether a recording holds a bare redaction marker (RequestViewer.recordedKey). */
  bare = false;

  static of(interactions: readonly Interaction[], viewer: RequestViewer): TableIndex {
    const index = new TableIndex(viewer);
    for (const interaction of interactions) index.add(interaction);
    return index;
  }

  constructor(private readonly viewer: RequestViewer) {}

  add(interaction: Interaction): void {
    const position = this.keys.length;
    const view = viewOf(interaction, this.viewer);
    const { key, bare } = this.viewer.recordedKey(this.viewer.key(view));
    this.bare ||= bare;
    this.keys.push(key);
    const slot = this.slots.get(key);
    if (slot) slot.positions.push(position);
    else this.slots.set(key, { positions: [position], next: 0 });
    this.prints.add(fingerprint(view));
  }
}

function viewOf(interaction: Interaction, viewer: RequestViewer): RequestView {
  const { request } = interaction;
  return viewer.view(request.method, request.url, request.headers ?? {}, request.body);
}
