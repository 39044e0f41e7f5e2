/**
 * Cassettes for replay: read once, parsed once, indexed once, kept in memory; a large one is parsed
 * in a worker (cassette/off-thread.ts) and indexed in steps that let other requests run. A cassette that
 * changes in storage is picked up without a restart: a request asks the storage whether the
 * cassette is still at the version it was loaded from at most every `revalidateMs`, and a changed
 * one is loaded again (replay counts carry over when it was only appended to: MatchTable.inherit).
 * A missing or broken cassette is an error naming it for the requests that need it (the others
 * are served); it is parsed again only when it changes. A cassette that could not be read (EMFILE,
 * EIO...) is not a broken one: that error is never remembered, and the next request reads it
 * again. Files are real paths (CassetteNames.resolve): one file, one entry.
 */
import { cassetteBatches } from '../cassette/off-thread.js';
import { ProxyError, describeCause } from '../errors.js';
import type { Logger } from '../log.js';
import type { RequestViewer } from '../match/request-view.js';
import { MatchTable } from '../match/table.js';
import type { ReplayPolicy } from '../mode.js';
import { Pacer } from '../pace.js';
import { SingleFlight } from '../single-flight.js';
import type { CassetteStorage, Version } from '../storage/backend.js';

/** How many cassettes stay loaded at once. */
const MAX_CASSETTES = 1000;

interface Entry {
  /** What the result was made from; none when the storage read none (no cassette, or one too large): it is read again each time. */
  version?: Version;
  checkedAt: number;
  result: MatchTable | ProxyError;
}

export class ReplayCassettes {
  private readonly entries = new Map<string, Entry>();
  /** Cassettes let go (over MAX_CASSETTES) after some of their recordings were replayed. */
  private readonly forgotten = new Set<string>();
  private readonly checks = new SingleFlight<string, Entry>();

  constructor(
    private readonly storage: CassetteStorage,
    private readonly viewer: RequestViewer,
    private readonly policy: ReplayPolicy,
    private readonly log: Logger,
    private readonly revalidateMs = 250,
  ) {}

  /** The match table of a cassette file; throws a ProxyError when it is missing or invalid. */
  async table(file: string): Promise<MatchTable> {
    const entry = this.entries.get(file);
    // A loaded cassette is trusted for a moment; a missing or broken one is looked at again each time.
    const trusted = entry && entry.result instanceof MatchTable && Date.now() - entry.checkedAt < this.revalidateMs;
    const fresh = trusted ? entry : await this.check(file);
    if (fresh.result instanceof ProxyError) throw fresh.result;
    return fresh.result;
  }

  /** Whether the replay counts of `file` cover this whole process (it was never let go after being replayed). */
  countsComplete(file: string): boolean {
    return !this.forgotten.has(file);
  }

  /** Rewinds the replay positions of `file`, or of every loaded cassette; returns the files rewound. */
  rewind(file?: string): string[] {
    const rewound: string[] = [];
    for (const [loaded, entry] of this.entries) {
      if ((file === undefined || loaded === file) && entry.result instanceof MatchTable) {
        entry.result.rewind();
        rewound.push(loaded);
      }
    }
    return rewound;
  }

  /** Every cassette loaded so far, with its match table (absent when it failed to load). */
  loaded(): { file: string; table?: MatchTable }[] {
    return [...this.entries].map(([file, e]) => (e.result instanceof MatchTable ? { file, table: e.result } : { file }));
  }

  /** One check per file at a time; concurrent requests share it. */
  private check(file: string): Promise<Entry> {
    return this.checks.run(file, () => this.revalidate(file));
  }

  private async revalidate(file: string): Promise<Entry> {
    const previous = this.entries.get(file);
    const unchanged = previous?.version !== undefined && (await this.storage.isCurrent(file, previous.version));
    const entry = unchanged ? previous! : await this.load(file, previous);
    if (entry.result instanceof ProxyError && entry.result.code === 'cassette_unavailable') return entry;
    if (entry !== previous && entry.result instanceof MatchTable && previous?.result instanceof MatchTable) entry.result.inherit(previous.result);
    entry.checkedAt = Date.now();
    // Checked means used: the least recently used cassette is the one let go when too many are loaded.
    this.entries.delete(file);
    this.entries.set(file, entry);
    // Names come from clients (x-cassette): keep the most recently used ones, not every name ever sent.
    if (this.entries.size > MAX_CASSETTES) {
      const [evicted, old] = this.entries.entries().next().value!;
      this.entries.delete(evicted);
      // Its replay counts go with it: loaded again, it could not tell which recordings were used.
      if (old.result instanceof MatchTable && old.result.usage().replayed > 0) this.forgotten.add(evicted);
    }
    return entry;
  }

  private async load(file: string, previous: Entry | undefined): Promise<Entry> {
    const shown = this.storage.show(file);
    let stored;
    try {
      stored = await this.storage.read(file);
    } catch (err) {
      return this.failure(shown, previous, err);
    }
    if (!stored) {
      const missing = new ProxyError('cassette_not_found', `cassette-proxy replay: cassette ${shown} does not exist. Record it first (--mode record), or check --cassette-dir and the x-cassette header.`);
      return this.failure(shown, previous, missing);
    }
    try {
      // Other requests (health checks, other cassettes) are answered while a large one loads.
      const table = await MatchTable.build(cassetteBatches(stored.bytes, shown), this.viewer, this.policy, new Pacer());
      this.log.info({ cassette: shown, interactions: table.interactions.length }, 'cassette loaded');
      return { version: stored.version, checkedAt: Date.now(), result: table };
    } catch (err) {
      return this.failure(shown, previous, err, stored.version);
    }
  }

  /** The entry for a cassette that cannot be used; the same failure as the previous entry's is reported once, not at every request. */
  private failure(shown: string, previous: Entry | undefined, err: unknown, version?: Version): Entry {
    const error = err instanceof ProxyError ? err : isIoError(err) ? unavailable(shown, err) : new ProxyError('cassette_invalid', `cassette-proxy replay: cannot use cassette ${shown}: ${(err as Error)?.name ?? 'error'} while reading it`, { cause: err });
    if (previous?.result instanceof ProxyError && previous.result.message === error.message && previous.version === version) return previous;
    if (error.code === 'cassette_not_found') this.log.warn({ cassette: shown }, 'cassette not found');
    else this.log.error({ cassette: shown, err: error.message }, 'cassette cannot be used');
    return { version, checkedAt: Date.now(), result: error };
  }
}

/** A failure of the system call reading the file (it has `syscall`), not of what the file holds. */
function isIoError(err: unknown): boolean {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === 'string';
}

function unavailable(shown: string, err: unknown): ProxyError {
  return new ProxyError('cassette_unavailable', `cassette-proxy replay: cassette ${shown} could not be read just now (${describeCause(err)}); the next request reads it again`, { cause: err });
}
