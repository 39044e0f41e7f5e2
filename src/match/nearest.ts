/**
 * The recording nearest to a request that matched none, found without looking at any recorded
 * request again: each recording's fingerprint (fingerprint.ts) goes into an inverted index when
 * the cassette loads (field → the recordings that have it, by position), and a miss looks up the
 * request's own fields there.
 *
 * Nearest means the fewest differing fields; among recordings that differ in as many, the one at
 * the request's own position (MatchTable counts it: how many requests the cassette was asked
 * before this one, the position the next hit would take if the suite ran as recorded), then the
 * earliest. Recordings of the request's method and path come first, any others only when the
 * cassette has none: the same endpoint is a filter, stronger than any tie-break. The search
 * takes the request's fields rarest first: a recording that has none of the t rarest differs in
 * at least t fields, so once the best found differs in fewer, no recording left can be nearer.
 * A miss that differs from its nearest recording in a few fields looks at a few short lists,
 * whatever the cassette's size. Every search is bounded (WORK); past it, the nearest found so far
 * is the answer.
 */
import type { Fingerprint } from './fingerprint.js';

export interface Near {
  /** The recording's position in the cassette. */
  position: number;
  /** Fields whose values differ, and fields only one side has. */
  fields: number;
}

/** Upper bound of one search, in steps: a posting read is 1, a recording's distance CHECK per field of the request. */
const WORK = 200_000;
/** Two binary searches in lists of up to a few hundred thousand positions. */
const CHECK = 32;

const NONE = new Int32Array(0);

/** Recordings, by ascending position, that have a key; packed into one array once built. */
class Postings<K> {
  /** A single position as itself; a list as -(offset + 1) into `packed`, where packed[offset] is its length. */
  private readonly at = new Map<K, number>();
  private readonly packed: Int32Array;

  constructor(lists: Map<K, number[]>) {
    let total = 0;
    for (const list of lists.values()) if (list.length > 1) total += list.length + 1;
    this.packed = new Int32Array(total);
    let offset = 0;
    for (const [key, list] of lists) {
      if (list.length === 1) {
        this.at.set(key, list[0]!);
        continue;
      }
      this.at.set(key, -(offset + 1));
      this.packed[offset] = list.length;
      this.packed.set(list, offset + 1);
      offset += list.length + 1;
    }
  }

  /** The positions that have `key`, ascending. */
  list(key: K): Int32Array {
    const at = this.at.get(key);
    if (at === undefined) return NONE;
    if (at >= 0) return Int32Array.of(at);
    const offset = -at - 1;
    return this.packed.subarray(offset + 1, offset + 1 + this.packed[offset]!);
  }
}

function contains(list: Int32Array, position: number): boolean {
  let low = 0;
  let high = list.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const value = list[middle]!;
    if (value === position) return true;
    if (value < position) low = middle + 1;
    else high = middle - 1;
  }
  return false;
}

/** Collects the fingerprints of a cassette's recordings, in file order. */
export class NearestIndexBuilder {
  private readonly values = new Map<number, number[]>();
  private readonly paths = new Map<string, number[]>();
  private readonly fieldCounts: number[] = [];
  private readonly endpointOf: number[] = [];
  private readonly endpoints = new Map<string, number>();

  add(print: Fingerprint): void {
    const position = this.fieldCounts.length;
    this.fieldCounts.push(print.keys.length);
    let endpoint = this.endpoints.get(print.endpoint);
    if (endpoint === undefined) this.endpoints.set(print.endpoint, (endpoint = this.endpoints.size));
    this.endpointOf.push(endpoint);
    print.keys.forEach((key, i) => {
      append(this.values, key, position);
      append(this.paths, print.paths[i]!, position);
    });
  }

  build(): NearestIndex {
    return new NearestIndex(new Postings(this.values), new Postings(this.paths), Int32Array.from(this.fieldCounts), Int32Array.from(this.endpointOf), this.endpoints);
  }
}

function append<K>(lists: Map<K, number[]>, key: K, position: number): void {
  const list = lists.get(key);
  if (list) list.push(position);
  else lists.set(key, [position]);
}

/** A field of the request: the recordings with its value, and those with its path. */
interface Field {
  values: Int32Array;
  paths: Int32Array;
}

export class NearestIndex {
  /** Every position, for the last stage of a search. */
  private readonly all: Int32Array;
  /** The first recording of each endpoint. */
  private readonly firsts: number[] = [];

  constructor(
    private readonly values: Postings<number>,
    private readonly paths: Postings<string>,
    private readonly fieldCounts: Int32Array,
    private readonly endpointOf: Int32Array,
    private readonly endpoints: Map<string, number>,
  ) {
    this.all = Int32Array.from(fieldCounts, (_, i) => i);
    endpointOf.forEach((endpoint, position) => (this.firsts[endpoint] ??= position));
  }

  /**
   * The nearest recording to a request that matched none; undefined when there are no recordings.
   * `own`: the request's own position in the cassette (see above), if it has one.
   */
  nearest(request: Fingerprint, own = -1): Near | undefined {
    if (this.fieldCounts.length === 0) return undefined;
    const endpoint = this.endpoints.get(request.endpoint);
    const fields: Field[] = request.keys.map((key, i) => ({ values: this.values.list(key), paths: this.paths.list(request.paths[i]!) }));
    fields.sort((a, b) => a.values.length - b.values.length);
    const nearer = (fields: number, position: number, best: Near | undefined): boolean =>
      !best || fields < best.fields || (fields === best.fields && rank(position, own) < rank(best.position, own));
    // Stage t reads the recordings that have the t-th rarest field; a recording first seen there
    // lacks the t rarer ones, so differs in at least t. The last stage reads every recording:
    // those that share no field at all differ in at least as many fields as the request has.
    const stages = [...fields.map((f) => f.values), this.all];
    const seen = new Set<number>();
    let best: Near | undefined;
    let work = WORK;
    // The own position is measured first: every other recording then ranks below any it ties
    // with, so each stage may still stop at the first position that cannot beat the best.
    if (own >= 0 && own < this.fieldCounts.length && (endpoint === undefined || this.endpointOf[own] === endpoint)) {
      seen.add(own);
      work -= CHECK * fields.length;
      best = { position: own, fields: this.distance(own, fields) };
    }
    search: for (let floor = 0; floor < stages.length; floor++) {
      const stage = stages[floor]!;
      for (let i = 0; i < stage.length; i++) {
        const position = stage[i]!;
        if (!nearer(floor, position, best)) break;
        if (--work < 0) break search;
        if (seen.has(position) || (endpoint !== undefined && this.endpointOf[position] !== endpoint)) continue;
        seen.add(position);
        work -= CHECK * fields.length;
        const near = { position, fields: this.distance(position, fields) };
        if (nearer(near.fields, near.position, best)) best = near;
      }
    }
    if (best) return best;
    // Out of work before meeting the request's endpoint: its first recording, or the cassette's.
    const position = endpoint === undefined ? 0 : this.firsts[endpoint]!;
    return { position, fields: this.distance(position, fields) };
  }

  /** Fields of a recording and a request that differ: paths on one side only, and shared paths with different values. */
  private distance(position: number, fields: readonly Field[]): number {
    let sameValue = 0;
    let samePath = 0;
    for (const field of fields) {
      if (contains(field.values, position)) {
        sameValue++;
        samePath++;
      } else if (contains(field.paths, position)) {
        samePath++;
      }
    }
    return this.fieldCounts[position]! + fields.length - sameValue - samePath;
  }
}

/** Order among recordings that differ in as many fields: the own position first, then file order. */
function rank(position: number, own: number): number {
  return position === own ? -1 : position;
}
