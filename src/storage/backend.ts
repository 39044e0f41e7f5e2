/**
 * Where cassettes are kept, as one interface: read a cassette with a version, replace it or append
 * to it only while it is still at a version, list cassettes, and hold a cassette's lease (one
 * writer across processes). The recorder (store.ts), replay and the tools reach cassettes only
 * through it; fs.ts is the filesystem backend. The format (src/cassette/) knows nothing of it.
 */
import type { Logger } from '../log.js';

/**
 * The largest cassette read: far below V8's limit on one string (about 512 MiB), and far above
 * what a test suite needs. A bigger one should be split into several cassettes.
 */
export const MAX_CASSETTE_BYTES = 256 * 1024 * 1024;

declare const VERSION: unique symbol;

/**
 * One state of one cassette, as its backend names it (fs: the file's identity). Opaque: only
 * the backend that made it can tell whether the cassette is still at it.
 */
export type Version = string & { readonly [VERSION]: true };

export interface StoredCassette {
  /** The cassette's YAML as saved. A save still under way (or cut short by a crash) is not part of it. */
  bytes: Buffer;
  version: Version;
  /** Whether a save is under way, or was cut short: a writer may be at work on this cassette. */
  pending: boolean;
}

/** Another process holds (`refused`) or took over (`lost`) a cassette's lease. */
export type LeaseConflict = 'refused' | 'lost';

/** The leases one recorder holds (lease.ts for files). */
export interface CassetteLeases {
  /** Resolves once this recorder holds `key`'s lease; rejects with `cassette_locked` when another live process holds it. */
  claim(key: string): Promise<void>;
  /** Throws unless this recorder still holds `key`'s lease: a save checks it before and after writing. */
  confirm(key: string): Promise<void>;
  /** Gives up every lease held (at shutdown, after the last save). */
  releaseAll(): Promise<void>;
}

export interface CassetteStorage {
  /**
   * Cassette `key` with its version; undefined when there is none. Throws `cassette_invalid`
   * (without reading it) past MAX_CASSETTE_BYTES, or the error that stopped the read.
   */
  read(key: string): Promise<StoredCassette | undefined>;
  /** The current version of `key` without reading it; undefined when there is none. */
  version(key: string): Promise<Version | undefined>;
  /** Whether `key` is still at `version`: false when it changed, is gone, or cannot be checked. */
  isCurrent(key: string, version: Version): Promise<boolean>;
  /**
   * Replaces `key` whole, atomically (a reader or a crash sees the old cassette or the new one),
   * if it is still at `expected` (null: if there is no such cassette). Returns the new version;
   * refused with nothing written otherwise.
   */
  write(key: string, chunks: Iterable<Buffer>, expected: Version | null): Promise<Version>;
  /**
   * Adds `chunks` (interactions as serialised sequence items) at the end of `key`'s interactions,
   * atomically, if it is still at `expected`, a version this storage's own write or append
   * returned. Returns the new version; refused with nothing written otherwise.
   */
  append(key: string, chunks: Iterable<Buffer>, expected: Version): Promise<Version>;
  /** Whether `append` takes only ASCII bytes (a writer then serialises what it appends in ASCII). */
  readonly appendsAsciiOnly: boolean;
  /**
   * The cassettes at `locations`: a location that is a cassette, as given; one that holds
   * cassettes, each of them, sorted. Throws an Error naming a location that does not exist.
   */
  list(locations: readonly string[]): Promise<string[]>;
  /** The lease holder a recorder uses; `onConflict` hears of leases refused or lost. */
  leases(log: Logger, onConflict?: (event: LeaseConflict) => void): CassetteLeases;
  /**
   * Runs `work` holding `key`'s lease, as a recorder holds it: a tool that rewrites a cassette
   * must never race a recorder appending to it. Throws `cassette_locked` when a live one holds it.
   */
  withLease<T>(key: string, work: () => Promise<T>): Promise<T>;
  /** `key` as people read it in a message. */
  show(key: string): string;
}
