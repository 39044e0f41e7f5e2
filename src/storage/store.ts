/**
 * Recording into cassettes. One CassetteFile per cassette serialises every write to it:
 * interactions added while a save runs go into the next one (group commit), and each interaction
 * is turned into YAML once, when it is added, not at every save. A cassette this process did not
 * write (or that changed since) is read and replaced whole; after that, saves append to it, so a
 * save costs the size of what it adds, not of the cassette. How either reaches the disk, durably
 * and atomically, is the storage backend's part (fs.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CASSETTE_PREAMBLE, interactionBytes, renderInteraction, renderedBytes } from '../cassette/codec.js';
import type { ItemLines } from '../cassette/emit.js';
import type { NewInteraction } from '../cassette/types.js';
import { ProxyError, describeCause } from '../errors.js';
import type { Logger } from '../log.js';
import type { CassetteLeases, CassetteStorage, LeaseConflict, Version } from './backend.js';
import { readCassette } from './read.js';

/** The longest wait between two saves of one cassette under load. */
const MAX_SAVE_PAUSE_MS = 1000;

/** How many interactions may wait in memory for a cassette whose saves keep failing. */
const MAX_UNSAVED = 1000;

interface Pending {
  rendered: ItemLines;
  resolve: (id: number) => void;
  reject: (err: unknown) => void;
}

export interface SaveListener {
  saved(file: string, count: number): void;
  failed(file: string, err: unknown): void;
  /** Another process holds (`refused`) or took over (`lost`) a cassette's lease. */
  leaseConflict?(event: LeaseConflict): void;
}

/** What a save must still hold when it writes: the cassette's lease (lease.ts). */
export interface WriteGuard {
  confirm(): Promise<void>;
}

export interface CassetteStats {
  onDisk: number;
  recordedSinceStart: number;
  /** Interactions recorded but not on disk: waiting for a save, kept after a failed one, or dropped. */
  unsaved: number;
  saveFailures: number;
  lastSaveError: string | undefined;
}

export class CassetteFile {
  /** Interactions in the cassette as this process last wrote it; undefined until it was read. */
  private onDisk: number | undefined;
  /** The cassette's version as this process last wrote it: saves append to that one. */
  private written: Version | undefined;
  /** Interactions that no save has put on disk yet (kept for the next save after a failure). */
  private unsaved: ItemLines[] = [];
  private queue: Pending[] = [];
  private draining: Promise<void> | undefined;
  private recordedSinceStart = 0;
  private saveFailures = 0;
  private lastSaveError: string | undefined;
  /** Interactions given up on: dropped after MAX_UNSAVED, or never turned into YAML. */
  private dropped = 0;

  constructor(
    private readonly storage: CassetteStorage,
    readonly file: string,
    private readonly log: Logger,
    private readonly listener?: SaveListener,
    private readonly guard?: WriteGuard,
  ) {}

  /**
   * Adds an interaction; resolves with its id once it is durable. It is turned into YAML here, as
   * it arrives, so that the queue holds bytes rather than object graphs that V8 would promote, and
   * a save does not turn a whole batch into YAML on the event loop. It is turned into the form the
   * save that takes it writes: readable for the first save, which replaces the cassette whole, and
   * in ASCII once saves append, where the storage appends only ASCII.
   */
  add(interaction: NewInteraction): Promise<number> {
    const appended = this.storage.appendsAsciiOnly && (this.written !== undefined || this.draining !== undefined);
    const rendered = renderInteraction(interaction, appended);
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ rendered, resolve, reject });
      this.startDraining();
    });
  }

  private startDraining(): void {
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
      // Added after the last save looked at the queue, but before this ran: it goes out now, not
      // with whatever is added next (or never, at shutdown).
      if (this.queue.length > 0) this.startDraining();
    });
  }

  /** Resolves when everything added so far has been saved or has failed. */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
    if (this.unsaved.length > 0) await this.saveOnce([]);
  }

  stats(): CassetteStats {
    return {
      onDisk: this.onDisk ?? 0,
      recordedSinceStart: this.recordedSinceStart,
      unsaved: this.unsaved.length + this.queue.length + this.dropped,
      saveFailures: this.saveFailures,
      lastSaveError: this.lastSaveError,
    };
  }

  /** Counts an exchange that could not even become an interaction as one that was not saved. */
  notRecorded(err: unknown): void {
    this.dropped++;
    this.failed(err instanceof ProxyError ? err : new ProxyError('internal_error', `recording into cassette ${this.file} failed: ${describeCause(err)}`, { cause: err }));
  }

  private failed(error: ProxyError): void {
    this.saveFailures++;
    this.lastSaveError = error.message;
    this.listener?.failed(this.file, error);
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const writeMs = await this.saveOnce(batch);
      // Every save waits for the disk twice (fsync). Under steady load, pausing for a few write
      // durations lets the next save take many interactions at once, so writing never takes more
      // than about a fifth of the time (and of the disk).
      const pause = Math.min(MAX_SAVE_PAUSE_MS, writeMs * 4);
      if (this.queue.length > 0 && pause >= 1) await sleep(pause);
    }
  }

  /**
   * Saves `batch` and anything a failed save left, appended to the cassette this process last
   * wrote, so the cassette is never held in memory nor turned into YAML again. When it is not that
   * one (first save, or edited meanwhile), it is read and replaced whole. Returns how long writing
   * took, in ms.
   */
  private async saveOnce(batch: Pending[]): Promise<number> {
    this.unsaved.push(...batch.map((p) => p.rendered));
    let ids: number[];
    let writeMs: number;
    try {
      await this.guard?.confirm();
      const appendTo = await this.appendable();
      const existing = appendTo ? undefined : await this.loadExisting();
      if (existing) this.onDisk = existing.count;
      const first = this.onDisk!;
      // Ids follow the cassette: what a failed save left goes first, then this batch.
      const unsaved = this.unsaved;
      const blocks = (function* () {
        for (const [i, rendered] of unsaved.entries()) yield* renderedBytes(rendered, first + i);
      })();
      ids = batch.map((_, i) => first + this.unsaved.length - batch.length + i);
      const started = performance.now();
      const written = existing
        ? await this.storage.write(this.file, whole(existing.bytes, blocks), existing.version)
        : await this.storage.append(this.file, blocks, appendTo!);
      // Checked again: a process that took the lease over during the save may have replaced the
      // cassette, and this save with it. It then counts as failed, never as saved.
      await this.guard?.confirm();
      this.written = written;
      writeMs = performance.now() - started;
      this.onDisk = first + this.unsaved.length;
      this.recordedSinceStart += this.unsaved.length;
      this.unsaved = [];
    } catch (err) {
      const error = err instanceof ProxyError ? err : new ProxyError('internal_error', `saving cassette ${this.file} failed: ${describeCause(err)}`, { cause: err });
      this.log.error({ err: error, cassette: this.file, interactions: this.unsaved.length }, 'cassette save failed; the interactions stay in memory and go out with the next save');
      this.failed(error);
      for (const p of batch) p.reject(error);
      if (this.unsaved.length > MAX_UNSAVED) {
        const dropped = this.unsaved.splice(0, this.unsaved.length - MAX_UNSAVED);
        this.dropped += dropped.length;
        this.log.error({ cassette: this.file, dropped: dropped.length }, 'too many interactions wait for a cassette that cannot be saved; the oldest are dropped');
      }
      // A failing disk is not hammered: the next attempt waits as long as a pause may.
      return MAX_SAVE_PAUSE_MS / 4;
    }
    this.listener?.saved(this.file, batch.length);
    batch.forEach((p, i) => p.resolve(ids[i]!));
    return writeMs;
  }

  /** The version to append to: the one this process last wrote, when the cassette is still at it. */
  private async appendable(): Promise<Version | undefined> {
    if (this.written === undefined || !(await this.storage.isCurrent(this.file, this.written))) return undefined;
    return this.written;
  }

  /** Reads the cassette, so that recording adds to it instead of replacing it. */
  private async loadExisting(): Promise<{ count: number; bytes: Iterable<Buffer>; version: Version | null }> {
    // A cassette that cannot be read is never overwritten: that would lose someone's recordings.
    const cassette = await readCassette(this.storage, this.file);
    if (!cassette) return { count: 0, bytes: [], version: null };
    const { interactions, version } = cassette;
    return {
      count: interactions.length,
      bytes: (function* () {
        for (const [id, interaction] of interactions.entries()) yield* interactionBytes({ ...interaction, id });
      })(),
      version,
    };
  }
}

/** A whole cassette: `existing` interactions, then the new `blocks`. */
function* whole(existing: Iterable<Buffer>, blocks: Iterable<Buffer>): Generator<Buffer> {
  yield Buffer.from(`${CASSETTE_PREAMBLE}interactions:\n`);
  yield* existing;
  yield* blocks;
}

/**
 * One CassetteFile per cassette, so that all writers of a cassette share its queue, and one lease
 * per cassette against other processes. Files are real paths (CassetteNames.resolve): a file
 * reached by two names, or through a symlinked folder, is one cassette here.
 */
export class CassetteStore {
  private readonly files = new Map<string, CassetteFile>();
  private readonly leases: CassetteLeases;

  constructor(
    private readonly storage: CassetteStorage,
    private readonly log: Logger,
    private readonly listener?: SaveListener,
  ) {
    this.leases = storage.leases(log, (event) => listener?.leaseConflict?.(event));
  }

  /** Takes `file`'s lease before an exchange that will record into it is forwarded (see CassetteLeases.claim). */
  claim(file: string): Promise<void> {
    return this.leases.claim(file);
  }

  file(file: string): CassetteFile {
    let entry = this.files.get(file);
    if (!entry) {
      entry = new CassetteFile(this.storage, file, this.log, this.listener, { confirm: () => this.leases.confirm(file) });
      this.files.set(file, entry);
    }
    return entry;
  }

  async flushAll(): Promise<void> {
    await Promise.all([...this.files.values()].map((f) => f.flush()));
  }

  /** Saves what is pending, then gives up every lease (at shutdown). */
  async close(): Promise<void> {
    await this.flushAll();
    await this.leases.releaseAll();
  }

  all(): CassetteFile[] {
    return [...this.files.values()];
  }
}
