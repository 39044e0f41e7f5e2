/**
 * One writer per cassette, across processes, containers and hosts that share a volume. Before a
 * proxy forwards a request it will record into a cassette, it takes the cassette's lease: a file
 * `.<cassette>.lock` next to it, created exclusively (`wx`), holding a random owner id. The owner
 * renews it (its mtime) every second, reads it back before and after every save, and removes it
 * at shutdown. A lease not renewed for LEASE_EXPIRES_MS belongs to a process that was killed (or
 * stalled that long): another may take it over. On Linux, a lease whose owner ran under the same
 * kernel boot and pid namespace and is gone (its pid is free, or names a process started at
 * another time) is taken over at once, so a restart after SIGKILL need not wait. A pid alone
 * proves nothing: replicas in other containers have their own pids.
 *
 * Of all the processes that judge one lease expired, exactly one takes it over: each tries to
 * create, exclusively, a tombstone named after that lease (its inode, mtime and owner); the one
 * that does removes the lease and creates its own, exclusively as ever. A lease is removed only by
 * its owner or by that one process, so a lease just taken cannot vanish under its new owner.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, readlink, realpath, stat, unlink, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ProxyError, describeCause } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { SingleFlight } from '../single-flight.js';
import type { CassetteLeases, LeaseConflict } from './backend.js';
import { displayPath } from './names.js';

export const LEASE_RENEW_MS = 1000;
export const LEASE_EXPIRES_MS = 5000;

export const leaseFile = (file: string): string => path.join(path.dirname(file), `.${path.basename(file)}.lock`);

/** What a lease file says about its owner. */
interface Holder {
  owner: string;
  host: string;
  pid: number;
  since: string;
  /** Linux: `<boot id> <pid namespace>` and the process's start time, which tell whether it is gone. */
  namespace?: string;
  start?: string;
}

interface Found {
  ino: number;
  mtimeMs: number;
  /** Undefined while its creator has not written it yet, or when it is not a lease this proxy wrote. */
  holder?: Holder;
}

/**
 * Runs `work` holding the lease of cassette `file`, as a recording proxy holds it: a tool that
 * rewrites a cassette (prune, merge, redact) must never race a proxy appending to it, whose saves
 * the rename would drop. Throws `cassette_locked` when a live proxy holds it.
 */
export async function withLease<T>(file: string, work: () => Promise<T>): Promise<T> {
  // Keyed as proxies key it: by the real path (the file itself may not exist yet).
  const real = await realpath(file).catch(async () => path.join(await realpath(path.dirname(file)).catch(() => path.resolve(path.dirname(file))), path.basename(file)));
  const leases = new Leases(silentLogger());
  await leases.claim(real);
  try {
    return await work();
  } finally {
    await leases.releaseAll();
  }
}

export class Leases implements CassetteLeases {
  private readonly owner = randomBytes(8).toString('hex');
  private readonly held = new Set<string>();
  /** One take of a lease at a time per file: a claim, a renewal and a save's check may race for it. */
  private readonly taking = new SingleFlight<string, void>();
  private readonly tombstones = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private renewing = false;
  private me: Promise<Holder> | undefined;

  constructor(
    private readonly log: Logger,
    private readonly onConflict: (event: LeaseConflict) => void = () => undefined,
  ) {}

  /**
   * Resolves once this proxy holds the lease of `file` (a resolved real path); rejects with
   * `cassette_locked` when another live process holds it, `cassette_unavailable` when the lease
   * cannot be written.
   */
  async claim(file: string): Promise<void> {
    if (this.held.has(file)) return;
    try {
      await this.taking.run(file, () => this.take(file));
    } catch (err) {
      if (err instanceof ProxyError && err.code === 'cassette_locked') {
        this.onConflict('refused');
        this.log.error({ cassette: displayPath(file) }, err.message);
      }
      throw err;
    }
  }

  /** Throws unless this proxy still holds the lease of `file`: a save checks it before and after writing. */
  async confirm(file: string): Promise<void> {
    if (this.held.has(file) && (await this.stillHeld(file))) return;
    throw new ProxyError(
      'cassette_locked',
      `cassette ${displayPath(file)} is not saved: this process no longer holds its lease (${displayPath(leaseFile(file))}), so another process may be recording into it. One process records into a cassette; give each its own cassette name.`,
    );
  }

  /** Removes every lease this proxy holds (at shutdown, after the last save). */
  async releaseAll(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const tombstone of this.tombstones) await unlink(tombstone).catch(() => undefined);
    this.tombstones.clear();
    for (const file of this.held) {
      const lease = leaseFile(file);
      const found = await readLease(lease).catch(() => undefined);
      if (found?.holder?.owner === this.owner) await unlink(lease).catch(() => undefined);
    }
    this.held.clear();
  }

  private async take(file: string): Promise<void> {
    const lease = leaseFile(file);
    const mine = `${JSON.stringify(await this.holder())}\n`;
    await mkdir(path.dirname(file), { recursive: true }).catch((err: unknown) => {
      throw unavailable(file, err);
    });
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await createExclusively(lease, mine).catch((err: unknown) => Promise.reject(unavailable(file, err)))) return this.hold(file);
      const found = await readLease(lease).catch((err: unknown) => Promise.reject(unavailable(file, err)));
      if (!found) continue; // released meanwhile
      if (found.holder?.owner === this.owner) return this.hold(file);
      if (!(await this.expired(found))) throw locked(file, found);
      await this.takeOver(file, found);
    }
    throw locked(file, undefined);
  }

  private async takeOver(file: string, found: Found): Promise<void> {
    const lease = leaseFile(file);
    const id = createHash('sha256').update(`${found.ino}:${found.mtimeMs}:${found.holder?.owner}`).digest('hex').slice(0, 16);
    const tombstone = `${lease}.${id}`;
    if (!(await createExclusively(tombstone, '').catch((err: unknown) => Promise.reject(unavailable(file, err))))) throw locked(file, found);
    // Kept while a process that read the same expired lease late could still try: until this
    // process gives its leases up, or the next takeover finds it older than that.
    this.tombstones.add(tombstone);
    await removeOldTombstones(lease);
    await unlink(lease).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw unavailable(file, err);
    });
    this.log.warn({ cassette: displayPath(file), holder: found.holder }, 'took over the lease of a process that is gone');
  }

  /** Whether this proxy still holds a lease it took; I/O errors are thrown (they say nothing about the lease). */
  private async stillHeld(file: string): Promise<boolean> {
    const found = await readLease(leaseFile(file));
    if (found?.holder?.owner === this.owner) return true;
    // Removed (with its folder, say): nobody holds it, so it is taken again, exclusively as ever.
    if (!found) {
      try {
        await this.taking.run(file, () => this.take(file));
        return true;
      } catch (err) {
        if (!(err instanceof ProxyError && err.code === 'cassette_locked')) throw err;
      }
    }
    this.lose(file, found);
    return false;
  }

  private hold(file: string): void {
    this.held.add(file);
    this.timer ??= setInterval(() => void this.renew(), LEASE_RENEW_MS).unref();
  }

  private lose(file: string, found: Found | undefined): void {
    if (!this.held.delete(file)) return;
    this.onConflict('lost');
    this.log.error(
      { cassette: displayPath(file), holder: found?.holder },
      'lost the lease of a cassette to another process (this one stalled for more than 5 s, or its lease file was replaced): its saves are refused until the lease is free again',
    );
  }

  private async renew(): Promise<void> {
    if (this.renewing) return;
    this.renewing = true;
    try {
      for (const file of this.held) {
        try {
          const now = new Date();
          if (await this.stillHeld(file)) await utimes(leaseFile(file), now, now);
        } catch (err) {
          // A transient failure (EMFILE) is not a lost lease: the next round tries again.
          this.log.warn({ cassette: displayPath(file), err: describeCause(err) }, 'could not renew a cassette lease');
        }
      }
    } finally {
      this.renewing = false;
    }
  }

  /** Not renewed for LEASE_EXPIRES_MS, or (Linux) its owner is provably gone. */
  private async expired(found: Found): Promise<boolean> {
    if (Date.now() - found.mtimeMs > LEASE_EXPIRES_MS) return true;
    const { holder } = found;
    const me = await this.holder();
    if (!holder?.namespace || !holder.start || holder.namespace !== me.namespace) return false;
    const start = await startTimeOf(holder.pid);
    return start === null || (start !== undefined && start !== holder.start);
  }

  private holder(): Promise<Holder> {
    this.me ??= processIdentity().then((identity) => ({
      owner: this.owner,
      host: os.hostname(),
      pid: process.pid,
      since: new Date().toISOString(),
      ...identity,
    }));
    return this.me;
  }
}

/** Creates `lease` holding `text` unless it exists (then false). A write that fails leaves no lease behind. */
async function createExclusively(lease: string, text: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(lease, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    await handle.writeFile(text);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(lease).catch(() => undefined);
    throw err;
  }
  await handle.close();
  return true;
}

const TOMBSTONE = /^[0-9a-f]{16}$/;

/** Removes the tombstones of earlier takeovers of `lease` (their makers may have been killed since). */
async function removeOldTombstones(lease: string): Promise<void> {
  const dir = path.dirname(lease);
  const prefix = `${path.basename(lease)}.`;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith(prefix) || !TOMBSTONE.test(name.slice(prefix.length))) continue;
    const old = await stat(path.join(dir, name)).then((s) => Date.now() - s.mtimeMs > 2 * LEASE_EXPIRES_MS, () => false);
    if (old) await unlink(path.join(dir, name)).catch(() => undefined);
  }
}

/** The lease file's identity and owner; undefined when there is none. */
async function readLease(lease: string): Promise<Found | undefined> {
  let handle;
  try {
    handle = await open(lease, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const { ino, mtimeMs } = await handle.stat();
    // A lease is one short line; a larger file is read no further.
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(1024), 0, 1024, 0);
    return { ino, mtimeMs, holder: parseHolder(buffer.subarray(0, bytesRead).toString('utf8')) };
  } finally {
    await handle.close();
  }
}

function parseHolder(text: string): Holder | undefined {
  try {
    const value = JSON.parse(text) as Holder;
    return typeof value?.owner === 'string' && typeof value.pid === 'number' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Linux: what tells this process apart from any other that ever ran under this kernel boot. */
async function processIdentity(): Promise<Pick<Holder, 'namespace' | 'start'>> {
  try {
    // A /proc mounted from another pid namespace would answer about other processes.
    if ((await readlink('/proc/self')) !== String(process.pid)) return {};
    const [boot, namespace, start] = await Promise.all([readFile('/proc/sys/kernel/random/boot_id', 'utf8'), readlink('/proc/self/ns/pid'), startTimeOf(process.pid)]);
    return start ? { namespace: `${boot.trim()} ${namespace}`, start } : {};
  } catch {
    return {};
  }
}

/**
 * Linux: when process `pid` started (clock ticks after boot); null when there is no such process
 * (or only its zombie), undefined when unknown.
 */
async function startTimeOf(pid: number): Promise<string | null | undefined> {
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : undefined;
  }
  // Fields 3 (state) and 22, counted after the command name, which is in parentheses and may hold anything.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[0] === 'Z' || fields[0] === 'X' ? null : fields[19];
}

function locked(file: string, found: Found | undefined): ProxyError {
  const holder = found?.holder;
  const who = holder ? `process ${holder.pid} on ${holder.host}, since ${holder.since}` : 'a process that is just taking it';
  const age = found ? `, last renewed ${((Date.now() - found.mtimeMs) / 1000).toFixed(1)} s ago` : '';
  return new ProxyError(
    'cassette_locked',
    `cassette ${displayPath(file)} is being recorded by another process (${who}${age}; lease ${displayPath(leaseFile(file))}). ` +
      `One process records into a cassette: give each replica its own cassette name (--cassette or x-cassette). ` +
      `A lease not renewed for ${LEASE_EXPIRES_MS / 1000} s is taken over, so if that process was killed, retry in a few seconds.`,
  );
}

function unavailable(file: string, err: unknown): ProxyError {
  return new ProxyError('cassette_unavailable', `cannot record into cassette ${displayPath(file)}: its lease file could not be written (${describeCause(err)})`, { cause: err });
}
