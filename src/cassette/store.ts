/**
 * Cassette files on disk, for recording. One CassetteFile per path serialises every write to that
 * file: interactions added while a save runs go into the next one (group commit), and each
 * interaction is turned into YAML when it is added, not at every save. A file this process did not
 * write (or that changed since) is replaced whole and atomically (temp file, fsync, rename, fsync
 * of the folder); after that, saves append in place behind a one-byte commit (see PENDING_SAVE), so
 * a save costs the size of what it adds, not of the cassette. Either way a reader or a crash sees
 * the cassette before or after a save, never half of one.
 */
import { mkdir, open, readFile, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProxyError, describeCause } from '../errors.js';
import type { Logger } from '../log.js';
import { CASSETTE_PREAMBLE, PENDING_SAVE, committedPart, interactionBytes, parseCassette, renderInteraction, renderedBytes, type RenderedInteraction } from './codec.js';
import { Leases, type LeaseConflict } from './lease.js';
import type { Cassette, NewInteraction } from './types.js';

/**
 * The largest cassette loaded: far below V8's limit on one string (about 512 MiB), and far above
 * what a test suite needs. A bigger one should be split into several cassettes.
 */
export const MAX_CASSETTE_BYTES = 256 * 1024 * 1024;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads and parses a cassette file; every failure is a ProxyError naming the file. `pendingAt` is
 * where the file holds a save under way (or cut short), whose interactions are not in the result:
 * the offset of the byte that committing it changes (PENDING_SAVE).
 */
export async function readCassette(file: string, shownAs: string = file): Promise<Cassette & { pendingAt?: number }> {
  const { size } = await stat(file);
  if (size > MAX_CASSETTE_BYTES) {
    throw new ProxyError('cassette_invalid', `cassette ${shownAs} is ${(size / 2 ** 20).toFixed(0)} MiB; the largest cassette loaded is ${MAX_CASSETTE_BYTES / 2 ** 20} MiB. Split it into several cassettes.`);
  }
  const all = await readFile(file);
  const bytes = committedPart(all);
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch (err) {
    throw new ProxyError('cassette_invalid', `cassette ${shownAs} is not valid UTF-8 text (YAML must be); binary bodies belong in !!binary`, { cause: err });
  }
  const cassette = parseCassette(text, shownAs);
  return bytes.length < all.length ? { ...cassette, pendingAt: bytes.length } : cassette;
}

/** Whether the save that was pending at `offset` of `file` has been committed since (or the file changed). */
export async function pendingSaveCommitted(file: string, offset: number): Promise<boolean> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return true;
  try {
    const { bytesRead, buffer } = await handle.read(Buffer.alloc(1), 0, 1, offset);
    return bytesRead === 0 || buffer[0] !== PENDING_SAVE.line.charCodeAt(0);
  } finally {
    await handle.close();
  }
}

/** The longest wait between two saves of one cassette under load. */
const MAX_SAVE_PAUSE_MS = 1000;

/** How many interactions may wait in memory for a cassette whose saves keep failing. */
const MAX_UNSAVED = 1000;

interface Pending {
  rendered: RenderedInteraction;
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

let tempCounter = 0;

/** What a file looked like when this process last wrote it: a different one was changed by someone else. */
interface FileIdentity {
  ino: number;
  size: number;
  mtimeMs: number;
}

const sameFile = (now: FileIdentity, written: FileIdentity): boolean =>
  now.ino === written.ino && now.size === written.size && now.mtimeMs === written.mtimeMs;

export class CassetteFile {
  /** Interactions in the file as this process last wrote it; undefined until the file was read. */
  private onDisk: number | undefined;
  private written: FileIdentity | undefined;
  /** Interactions that no save has put on disk yet (kept for the next save after a failure). */
  private unsaved: RenderedInteraction[] = [];
  private queue: Pending[] = [];
  private draining: Promise<void> | undefined;
  private recordedSinceStart = 0;
  private saveFailures = 0;
  private lastSaveError: string | undefined;
  /** Interactions given up on: dropped after MAX_UNSAVED, or never turned into YAML. */
  private dropped = 0;

  constructor(
    readonly file: string,
    private readonly log: Logger,
    private readonly listener?: SaveListener,
    private readonly guard?: WriteGuard,
  ) {}

  /**
   * Adds an interaction; resolves with its id once it is durable on disk. It is turned into YAML
   * here, as it arrives, so that the queue holds bytes rather than object graphs that V8 would
   * promote, and a save does not turn a whole batch into YAML on the event loop.
   */
  add(interaction: NewInteraction): Promise<number> {
    const rendered = renderInteraction(interaction);
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ rendered, resolve, reject });
      this.draining ??= this.drain().finally(() => {
        this.draining = undefined;
      });
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
   * Saves `batch` and anything a failed save left, appended in place to the file this process last
   * wrote, so the cassette is never held in memory nor turned into YAML again. When the file is not
   * that one (first save, or edited meanwhile), it is read and rewritten whole. Returns how long
   * writing took, in ms.
   */
  private async saveOnce(batch: Pending[]): Promise<number> {
    this.unsaved.push(...batch.map((p) => p.rendered));
    let ids: number[];
    let writeMs: number;
    try {
      await this.guard?.confirm();
      const unchanged = await this.unchangedSinceWritten();
      const existing = unchanged ? undefined : await this.loadExisting();
      if (existing) this.onDisk = existing.count;
      const first = this.onDisk!;
      // Ids follow the file: what a failed save left goes first, then this batch.
      const unsaved = this.unsaved;
      // Readable in a whole rewrite; in place, ASCII: a pending save cut short must never end in
      // half a character (PENDING_SAVE).
      const blocks = (function* () {
        for (const [i, rendered] of unsaved.entries()) yield* renderedBytes(existing ? rendered.readable : rendered.ascii, first + i);
      })();
      ids = batch.map((_, i) => first + this.unsaved.length - batch.length + i);
      const started = performance.now();
      const preamble = Buffer.from(`${CASSETTE_PREAMBLE}interactions:\n`);
      const written = existing ? await writeAtomically(this.file, chain([preamble], existing.bytes, blocks)) : await appendInPlace(this.file, this.written!, blocks);
      // Checked again: a process that took the lease over during the save may have replaced the
      // file, and this save with it. It then counts as failed, never as saved.
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

  /** Whether the file is still exactly what this process last wrote, so that a save may append to it. */
  private async unchangedSinceWritten(): Promise<boolean> {
    if (!this.written) return false;
    if (this.written.size > MAX_CASSETTE_BYTES) {
      // Past this size no loader here would read it again: stop before it becomes unusable.
      throw new ProxyError('cassette_invalid', `cassette ${this.file} has reached ${MAX_CASSETTE_BYTES / 2 ** 20} MiB, the largest the proxy loads; record into another cassette (--cassette or x-cassette)`);
    }
    const now = await stat(this.file).catch(() => undefined);
    return now !== undefined && sameFile(now, this.written);
  }

  /** Reads the cassette on disk, so that recording appends to it instead of replacing it. */
  private async loadExisting(): Promise<{ count: number; bytes: Iterable<Buffer> }> {
    await removeStaleTemps(this.file);
    let cassette: Cassette;
    try {
      // A file we cannot read is never overwritten: that would lose someone's recordings.
      cassette = await readCassette(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { count: 0, bytes: [] };
      throw err;
    }
    const { interactions } = cassette;
    return {
      count: interactions.length,
      bytes: (function* () {
        for (const [id, interaction] of interactions.entries()) yield* interactionBytes({ ...interaction, id });
      })(),
    };
  }
}

const PROCESS_STARTED = Date.now() - process.uptime() * 1000;

const tempName = (file: string, pid: number, n: number): string => `.${path.basename(file)}.${pid}.${n}.tmp`;

/** Removes temp files that a process killed mid-save left next to `file` (never a live process's). */
async function removeStaleTemps(file: string): Promise<void> {
  const dir = path.dirname(file);
  const prefix = `.${path.basename(file)}.`;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pid = Number(/^(\d+)\.\d+$/.exec(name.slice(prefix.length, -'.tmp'.length))?.[1]);
    if (!pid) continue;
    // A live pid may be a reused one (PID 1 in every container): a temp file older than this process is stale too.
    const stale = !processAlive(pid) || (await stat(path.join(dir, name)).then((s) => s.mtimeMs < PROCESS_STARTED, () => false));
    if (stale) await unlink(path.join(dir, name)).catch(() => undefined);
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Writes `file` so that it is at every moment either the old file or the new one: the new content
 * goes to a temp file in the same folder, which is fsynced and renamed over `file`; then the folder
 * is fsynced. Returns the new file's identity.
 */
export async function writeAtomically(file: string, chunks: Iterable<Buffer>): Promise<FileIdentity> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true });
  const temp = path.join(dir, tempName(file, process.pid, ++tempCounter));
  let identity: FileIdentity;
  try {
    const handle = await open(temp, 'w', 0o644);
    try {
      await writeAll(handle, chunks, 0);
      await handle.sync();
      identity = await identityOf(handle);
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncDirectory(dir);
  return identity;
}

/** Page size of the page cache: a write cut short by a kill stops at a page boundary. */
const PAGE = 4096;

/**
 * Appends `chunks` to `file`, which is `written`, as a pending save that one byte then commits
 * (PENDING_SAVE): written and fsynced, then committed and fsynced. A failed append is cut off again.
 */
async function appendInPlace(file: string, written: FileIdentity, chunks: Iterable<Buffer>): Promise<FileIdentity> {
  const handle = await open(file, 'r+');
  try {
    if (!sameFile(await handle.stat(), written)) {
      // Replaced or written to since it was checked: the next save reads it again and rewrites it whole.
      throw new ProxyError('internal_error', `cassette ${file} changed while it was being saved; its new interactions go out with the next save`);
    }
    // The marker line must reach the file whole: when it would cross a page, blank lines move it to the next page.
    const room = PAGE - (written.size % PAGE);
    const marker = Buffer.from(`${room < PENDING_SAVE.line.length ? '\n'.repeat(room) : ''}${PENDING_SAVE.line}`);
    const commitAt = written.size + marker.length - PENDING_SAVE.line.length;
    try {
      await writeAll(handle, chain([marker], chunks), written.size);
      await handle.datasync();
      await handle.write(PENDING_SAVE.commit, commitAt);
      await handle.datasync();
    } catch (err) {
      await handle.truncate(written.size).catch(() => undefined);
      throw err;
    }
    return await identityOf(handle);
  } finally {
    await handle.close();
  }
}

/**
 * Writes `chunks` from `position` on, in batches: writev takes at most IOV_MAX buffers per call on
 * some platforms, and a large body's buffers are made as they are reached, so only one batch is in
 * memory at a time.
 */
async function writeAll(handle: FileHandle, chunks: Iterable<Buffer>, position: number): Promise<void> {
  let batch: Buffer[] = [];
  let bytes = 0;
  const write = async (): Promise<void> => {
    const { bytesWritten } = await handle.writev(batch, position);
    if (bytesWritten !== bytes) throw new Error(`short write: ${bytesWritten} of ${bytes} bytes`);
    position += bytes;
    batch = [];
    bytes = 0;
  };
  for (const chunk of chunks) {
    batch.push(chunk);
    bytes += chunk.length;
    if (batch.length >= 512 || bytes >= 4 << 20) await write();
  }
  if (batch.length > 0) await write();
}

async function identityOf(handle: FileHandle): Promise<FileIdentity> {
  const { ino, size, mtimeMs } = await handle.stat();
  return { ino, size, mtimeMs };
}

function* chain(...parts: Iterable<Buffer>[]): Generator<Buffer> {
  for (const part of parts) yield* part;
}

/** Makes the rename itself durable. Some platforms cannot fsync a folder; the rename still happened. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  if (!handle) return;
  try {
    await handle.sync();
  } catch {
    // EINVAL/EISDIR on platforms without directory fsync: the data itself is already synced.
  } finally {
    await handle.close();
  }
}

/**
 * One CassetteFile per file, so that all writers of a file share its queue, and one lease per file
 * against other processes. Files are real paths (CassetteNames.resolve): a file reached by two
 * names, or through a symlinked folder, is one file here.
 */
export class CassetteStore {
  private readonly files = new Map<string, CassetteFile>();
  private readonly leases: Leases;

  constructor(
    private readonly log: Logger,
    private readonly listener?: SaveListener,
  ) {
    this.leases = new Leases(log, (event) => listener?.leaseConflict?.(event));
  }

  /** Takes `file`'s lease before an exchange that will record into it is forwarded (see Leases.claim). */
  claim(file: string): Promise<void> {
    return this.leases.claim(file);
  }

  file(file: string): CassetteFile {
    let entry = this.files.get(file);
    if (!entry) {
      entry = new CassetteFile(file, this.log, this.listener, { confirm: () => this.leases.confirm(file) });
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
