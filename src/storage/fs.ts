/**
 * Cassettes as files: the filesystem backend of CassetteStorage, and the one place that says how a
 * save reaches the disk. A reader or a crash sees a cassette before or after a save, never half of one.
 *
 * Version: a file's identity, its inode, size and mtime. A read that found a save pending (below)
 * adds where it was: committing changes one byte, which may leave size and mtime as they were.
 *
 * Whole rewrite (`write`): the new file is written to a temp file `.<file>.<pid>.<n>.tmp` in the
 * same folder, fsynced, and renamed over the file, and then the folder is fsynced. The rename is
 * made only if the file is still at the expected version, checked just before. Temp files that a
 * process killed mid-save left are removed before each rewrite. A live process's temp files are
 * kept. A pid that is alive may have been reused (PID 1 in every container), so a temp file older
 * than this process is also stale.
 *
 * Append in place (`append`): a save costs the size of what it adds, not the size of the
 * cassette. It appends to the file this process last wrote, if the file is unchanged since then:
 *   1. write the line `_: |` and then the new interactions. Until committed, they are the text of a
 *      literal block under a top-level key `_`, which go-vcr and this loader ignore. Any prefix of
 *      them (a write cut short) is still such a text, because every line of a serialised
 *      interaction is indented;
 *   2. fsync;
 *   3. commit: overwrite the `_` with `#`. That is one byte, which no crash can tear. The line
 *      becomes a comment, and the interactions below it continue the `interactions` list;
 *   4. fsync.
 * A kill cuts a write short only at a page boundary, so blank lines move the marker line to the
 * next page when it would cross one. The appended bytes are ASCII only: a cut could otherwise leave
 * half a UTF-8 character, and Go's YAML reader refuses a whole file that holds one. The recorder
 * therefore serialises what it appends in the emitter's ASCII style; whole rewrites are readable.
 * A failed append is cut off again. A read leaves out a save still pending (from the last
 * `\n_: |\n` on), and so does the next rewrite.
 *
 * Leases (one writer per cassette across processes): lease.ts. Cassette names to files: names.ts.
 */
import { isAscii } from 'node:buffer';
import type { Stats } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ProxyError, describeCause } from '../errors.js';
import type { Logger } from '../log.js';
import { MAX_CASSETTE_BYTES, type CassetteLeases, type CassetteStorage, type LeaseConflict, type StoredCassette, type Version } from './backend.js';
import { Leases, withLease } from './lease.js';
import { displayPath } from './names.js';

const PENDING_SAVE = { line: '_: |\n', commit: '#' } as const;
const PENDING_TAIL = Buffer.from(`\n${PENDING_SAVE.line}`);

/** Page size of the page cache: a write cut short by a kill stops at a page boundary. */
const PAGE = 4096;

/** Folders `list` never searches: dependencies and git's own files hold no cassettes of yours. */
const SKIPPED = new Set(['node_modules', '.git']);

export class FsStorage implements CassetteStorage {
  readonly appendsAsciiOnly = true;
  /** The version of each file as this process last wrote it: the only versions `append` extends. */
  private readonly written = new Map<string, Version>();

  async read(file: string): Promise<StoredCassette | undefined> {
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (err) {
      if (missing(err)) return undefined;
      throw err;
    }
    try {
      // The identity before the bytes: a change made while reading then shows as a new version.
      const info = await handle.stat();
      if (info.size > MAX_CASSETTE_BYTES) {
        throw new ProxyError('cassette_invalid', `cassette ${displayPath(file)} is ${(info.size / 2 ** 20).toFixed(0)} MiB; the largest cassette loaded is ${MAX_CASSETTE_BYTES / 2 ** 20} MiB. Split it into several cassettes.`);
      }
      const all = await handle.readFile();
      const at = all.lastIndexOf(PENDING_TAIL);
      if (at === -1) return { bytes: all, version: versionOf(info), pending: false };
      return { bytes: all.subarray(0, at + 1), version: versionOf(info, at + 1), pending: true };
    } finally {
      await handle.close();
    }
  }

  async version(file: string): Promise<Version | undefined> {
    try {
      return versionOf(await stat(file));
    } catch (err) {
      if (missing(err)) return undefined;
      throw err;
    }
  }

  async isCurrent(file: string, version: Version): Promise<boolean> {
    const [identity, pendingAt] = version.split('@') as [string, string | undefined];
    const now = await stat(file).catch(() => undefined);
    if (now === undefined || versionOf(now) !== identity) return false;
    return pendingAt === undefined || (await stillPending(file, Number(pendingAt)));
  }

  async write(file: string, chunks: Iterable<Buffer>, expected: Version | null): Promise<Version> {
    await removeStaleTemps(file);
    const version = await writeAtomically(file, chunks, async () => {
      const current = expected === null ? (await this.version(file)) === undefined : await this.isCurrent(file, expected);
      if (!current) throw changed(file, expected === null ? 'was created' : 'changed');
    });
    this.written.set(file, version);
    return version;
  }

  async append(file: string, chunks: Iterable<Buffer>, expected: Version): Promise<Version> {
    if (this.written.get(file) !== expected) throw changed(file, 'was not written last by this process');
    const size = Number(expected.split(':')[1]);
    if (size > MAX_CASSETTE_BYTES) {
      // Past this size no reader here would read it again: stop before it becomes unusable.
      throw new ProxyError('cassette_invalid', `cassette ${displayPath(file)} has reached ${MAX_CASSETTE_BYTES / 2 ** 20} MiB, the largest the proxy loads; record into another cassette (--cassette or x-cassette)`);
    }
    const handle = await open(file, 'r+');
    try {
      // Replaced or written to since: the caller reads it again and rewrites it whole.
      if (versionOf(await handle.stat()) !== expected) throw changed(file, 'changed');
      // The marker line must reach the file whole: when it would cross a page, blank lines move it to the next page.
      const room = PAGE - (size % PAGE);
      const marker = Buffer.from(`${room < PENDING_SAVE.line.length ? '\n'.repeat(room) : ''}${PENDING_SAVE.line}`);
      const commitAt = size + marker.length - PENDING_SAVE.line.length;
      try {
        await writeAll(handle, chain([marker], asciiOnly(file, chunks)), size);
        await handle.datasync();
        await handle.write(PENDING_SAVE.commit, commitAt);
        await handle.datasync();
      } catch (err) {
        await handle.truncate(size).catch(() => undefined);
        throw err;
      }
      const version = versionOf(await handle.stat());
      this.written.set(file, version);
      return version;
    } finally {
      await handle.close();
    }
  }

  /** Files as given; in a folder, its `.yaml` and `.yml` files at any depth (symbolic links to folders are not followed). */
  async list(locations: readonly string[]): Promise<string[]> {
    const files: string[] = [];
    for (const location of locations) {
      const info = await stat(location).catch((err: unknown) => {
        throw new Error(`${location}: ${describeCause(err)}`, { cause: err });
      });
      files.push(...(info.isDirectory() ? (await search(location)).sort() : [location]));
    }
    return files;
  }

  leases(log: Logger, onConflict?: (event: LeaseConflict) => void): CassetteLeases {
    return new Leases(log, onConflict);
  }

  withLease<T>(file: string, work: () => Promise<T>): Promise<T> {
    return withLease(file, work);
  }

  show(file: string): string {
    return displayPath(file);
  }
}

function versionOf(info: Stats, pendingAt?: number): Version {
  const identity = `${info.ino}:${info.size}:${info.mtimeMs}`;
  return (pendingAt === undefined ? identity : `${identity}@${pendingAt}`) as Version;
}

/** ENOTDIR: a folder on the path is a file, so there is no cassette there either. */
function missing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function changed(file: string, what: string): ProxyError {
  return new ProxyError('internal_error', `cassette ${displayPath(file)} ${what} while it was being saved; its new interactions go out with the next save`);
}

/** Whether the save that was pending at `offset` of `file` is still pending (neither committed nor cut off). */
async function stillPending(file: string, offset: number): Promise<boolean> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return false;
  try {
    const { bytesRead, buffer } = await handle.read(Buffer.alloc(1), 0, 1, offset);
    return bytesRead === 1 && buffer[0] === PENDING_SAVE.line.charCodeAt(0);
  } finally {
    await handle.close();
  }
}

/** `chunks`, refusing any byte past ASCII before it is written (see the top of this file). */
function* asciiOnly(file: string, chunks: Iterable<Buffer>): Generator<Buffer> {
  for (const chunk of chunks) {
    if (!isAscii(chunk)) throw new ProxyError('internal_error', `cassette ${displayPath(file)}: an append in place must be ASCII; nothing of it was committed`);
    yield chunk;
  }
}

async function search(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIPPED.has(entry.name)) found.push(...(await search(file)));
    } else if (/\.ya?ml$/.test(entry.name) && (entry.isFile() || (entry.isSymbolicLink() && (await stat(file).then((s) => s.isFile(), () => false))))) {
      found.push(file);
    }
  }
  return found;
}

let tempCounter = 0;

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
 * Writes `file` so that it is at every moment either the old file or the new one (see the top of
 * this file); `beforeRename` may still refuse. Returns the new file's version.
 */
async function writeAtomically(file: string, chunks: Iterable<Buffer>, beforeRename?: () => Promise<void>): Promise<Version> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true });
  const temp = path.join(dir, tempName(file, process.pid, ++tempCounter));
  let version: Version;
  try {
    const handle = await open(temp, 'w', 0o644);
    try {
      await writeAll(handle, chunks, 0);
      await handle.sync();
      version = versionOf(await handle.stat());
    } finally {
      await handle.close();
    }
    await beforeRename?.();
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await syncDirectory(dir);
  return version;
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
