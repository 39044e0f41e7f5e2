/**
 * Cassette files on disk, for recording. One CassetteFile per path serialises every write to that
 * file: interactions added while a save runs go into the next one (group commit), each interaction
 * is turned into YAML once and kept as bytes, and every save replaces the file atomically
 * (temp file, fsync, rename, fsync of the folder), so a reader or a crash sees the old file or the
 * new one, never half of one.
 */
import { mkdir, open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProxyError, describeCause } from '../errors.js';
import type { Logger } from '../log.js';
import { CASSETTE_PREAMBLE, parseCassette, serializeInteraction } from './codec.js';
import type { Cassette, Interaction } from './types.js';

/**
 * The largest cassette loaded: far below V8's limit on one string (about 512 MiB), and far above
 * what a test suite needs. A bigger one should be split into several cassettes.
 */
export const MAX_CASSETTE_BYTES = 256 * 1024 * 1024;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Reads and parses a cassette file; every failure is a ProxyError naming the file. */
export async function readCassette(file: string, shownAs: string = file): Promise<Cassette> {
  const { size } = await stat(file);
  if (size > MAX_CASSETTE_BYTES) {
    throw new ProxyError('cassette_invalid', `cassette ${shownAs} is ${(size / 2 ** 20).toFixed(0)} MiB; the largest cassette loaded is ${MAX_CASSETTE_BYTES / 2 ** 20} MiB. Split it into several cassettes.`);
  }
  const bytes = await readFile(file);
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch (err) {
    throw new ProxyError('cassette_invalid', `cassette ${shownAs} is not valid UTF-8 text (YAML must be); binary bodies belong in !!binary`, { cause: err });
  }
  return parseCassette(text, shownAs);
}

export type NewInteraction = Omit<Interaction, 'id'>;

/** The longest wait between two saves of one cassette under load. */
const MAX_SAVE_PAUSE_MS = 1000;

interface Pending {
  interaction: NewInteraction;
  resolve: (id: number) => void;
  reject: (err: unknown) => void;
}

export interface SaveListener {
  saved(file: string, count: number): void;
  failed(file: string, err: unknown): void;
}

let tempCounter = 0;

export class CassetteFile {
  /** Serialised interactions in file order; undefined until the existing file was read. */
  private blocks: Buffer[] | undefined;
  private queue: Pending[] = [];
  private draining: Promise<void> | undefined;
  /** Interactions in memory that no save has put on disk yet. */
  private unsaved = 0;
  /** Interactions in the file as last saved, and how many of them this process added. */
  private saved = { onDisk: 0, recordedSinceStart: 0 };

  constructor(
    readonly file: string,
    private readonly log: Logger,
    private readonly listener?: SaveListener,
  ) {}

  /** Adds an interaction; resolves with its id once it is durable on disk. */
  add(interaction: NewInteraction): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ interaction, resolve, reject });
      this.draining ??= this.drain().finally(() => {
        this.draining = undefined;
      });
    });
  }

  /** Resolves when everything added so far has been saved or has failed. */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
    if (this.unsaved > 0) await this.saveOnce([]);
  }

  stats(): { onDisk: number; recordedSinceStart: number } {
    return { ...this.saved };
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const writeMs = await this.saveOnce(batch);
      // Every save rewrites the whole file. Under steady load, pausing for a few write durations
      // lets the next save take many interactions at once, so writing never takes more than about
      // a fifth of the time (and of the disk) however large the cassette grows.
      const pause = Math.min(MAX_SAVE_PAUSE_MS, writeMs * 4);
      if (this.queue.length > 0 && pause >= 1) await sleep(pause);
    }
  }

  /** Saves what is in memory plus `batch`; returns how long writing the file took, in ms. */
  private async saveOnce(batch: Pending[]): Promise<number> {
    let ids: number[];
    let writeMs: number;
    try {
      const blocks = (this.blocks ??= await this.loadExisting());
      ids = batch.map((p) => {
        const id = blocks.length;
        blocks.push(Buffer.from(serializeInteraction({ id, ...p.interaction })));
        return id;
      });
      this.unsaved += batch.length;
      const started = performance.now();
      await writeAtomically(this.file, [Buffer.from(`${CASSETTE_PREAMBLE}interactions:\n`), ...blocks]);
      writeMs = performance.now() - started;
      this.saved = { onDisk: blocks.length, recordedSinceStart: this.saved.recordedSinceStart + this.unsaved };
      this.unsaved = 0;
    } catch (err) {
      const error = err instanceof ProxyError ? err : new ProxyError('internal_error', `saving cassette ${this.file} failed: ${describeCause(err)}`, { cause: err });
      this.log.error({ err: error, cassette: this.file, interactions: batch.length }, 'cassette save failed; the interactions stay in memory and go out with the next save');
      this.listener?.failed(this.file, error);
      for (const p of batch) p.reject(error);
      // A failing disk is not hammered: the next attempt waits as long as a pause may.
      return MAX_SAVE_PAUSE_MS / 4;
    }
    this.listener?.saved(this.file, batch.length);
    batch.forEach((p, i) => p.resolve(ids[i]!));
    return writeMs;
  }

  /** Reads the cassette already on disk so that recording appends to it instead of replacing it. */
  private async loadExisting(): Promise<Buffer[]> {
    await removeStaleTemps(this.file);
    let cassette: Cassette;
    try {
      // A file we cannot read is never overwritten: that would lose someone's recordings.
      cassette = await readCassette(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return cassette.interactions.map((interaction, id) => Buffer.from(serializeInteraction({ ...interaction, id })));
  }
}

const tempName = (file: string, pid: number, n: number): string => `.${path.basename(file)}.${pid}.${n}.tmp`;

/** Removes temp files that a process killed mid-save left next to `file` (never a live process's). */
async function removeStaleTemps(file: string): Promise<void> {
  const dir = path.dirname(file);
  const prefix = `.${path.basename(file)}.`;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pid = Number(/^(\d+)\.\d+$/.exec(name.slice(prefix.length, -'.tmp'.length))?.[1]);
    if (pid && !processAlive(pid)) await unlink(path.join(dir, name)).catch(() => undefined);
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

/** Writes `chunks` to `file` so that the file is at every moment either the old one or the new one. */
export async function writeAtomically(file: string, chunks: readonly Buffer[]): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true });
  const temp = path.join(dir, tempName(file, process.pid, ++tempCounter));
  try {
    const handle = await open(temp, 'w', 0o644);
    try {
      // writev takes at most IOV_MAX buffers per call on some platforms: go in slices.
      for (let i = 0; i < chunks.length; i += 512) await handle.writev(chunks.slice(i, i + 512));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncDirectory(dir);
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

/** One CassetteFile per path, so that all writers of a file share its queue. */
export class CassetteStore {
  private readonly files = new Map<string, CassetteFile>();

  constructor(
    private readonly log: Logger,
    private readonly listener?: SaveListener,
  ) {}

  file(file: string): CassetteFile {
    let entry = this.files.get(file);
    if (!entry) {
      entry = new CassetteFile(file, this.log, this.listener);
      this.files.set(file, entry);
    }
    return entry;
  }

  async flushAll(): Promise<void> {
    await Promise.all([...this.files.values()].map((f) => f.flush()));
  }

  all(): CassetteFile[] {
    return [...this.files.values()];
  }
}
