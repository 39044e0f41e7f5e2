/**
 * `cassette-proxy prune --usage report.json`: removes from each cassette the interactions a replay
 * run never used, as the proxy's usage report (the answer of GET /_proxy/cassettes) lists them.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { requestPath } from '../cassette/describe.js';
import { describeCause } from '../errors.js';
import { loadCassette, problemWith, storage, writeCassette } from './cassette-files.js';
import { toolCommand } from './command.js';

/** What the reports say about one cassette. */
interface Usage {
  shown: string;
  /** Its interactions when the reports were made: the cassette on disk must still have as many. */
  onDisk: number;
  /** Ids that no report saw replayed. */
  unused: Set<number>;
}

/** Returns the exit status: 0, or 1 when a report or a cassette could not be read, or a cassette no longer matches its report. */
export async function runPrune(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const args = await toolCommand(argv, 'prune', 'Remove from each cassette the interactions a replay run never used, as the proxy reported them (GET /_proxy/cassettes); ids are renumbered and each file is replaced atomically')
    .option('usage', {
      type: 'string',
      array: true,
      demandOption: true,
      describe: 'The saved answer of GET /_proxy/cassettes (repeatable, e.g. one per replica: an interaction goes only when no report saw it replayed)',
    })
    .option('base', { type: 'string', default: '.', describe: 'Folder the proxy ran in: a report names cassettes relative to it' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'Print what would be removed and change nothing' })
    .parseAsync();
  const usages = new Map<string, Usage>();
  for (const report of args.usage as string[]) {
    try {
      addReport(usages, JSON.parse(await readFile(report, 'utf8')), path.resolve(args.base as string));
    } catch (error) {
      err.write(`cassette-proxy prune: usage report ${report}: ${describeCause(error)}\n`);
      return 1;
    }
  }
  let status = 0;
  for (const [file, usage] of usages) {
    try {
      out.write(`${await prune(file, usage, args['dry-run'] as boolean)}\n`);
    } catch (error) {
      err.write(`cassette-proxy prune: ${problemWith(usage.shown, error)}\n`);
      status = 1;
    }
  }
  if (usages.size === 0) out.write('no cassette in the report was loaded for replay: nothing to prune\n');
  return status;
}

/**
 * Adds one report's rows. A row without `never_replayed_ids` is a cassette that process only
 * recorded into (or could not load): it says nothing about what replay used.
 */
function addReport(usages: Map<string, Usage>, report: unknown, base: string): void {
  const rows = (report as { cassettes?: unknown } | null)?.cassettes;
  if (!Array.isArray(rows)) throw new Error('not an answer of GET /_proxy/cassettes (no "cassettes" list)');
  for (const row of rows as Record<string, unknown>[]) {
    const { cassette, interactions_on_disk: onDisk, never_replayed_ids: ids } = row ?? {};
    if (ids === undefined) continue;
    if (typeof cassette !== 'string' || !Number.isInteger(onDisk) || !Array.isArray(ids) || !ids.every(Number.isInteger)) {
      throw new Error(`row ${JSON.stringify(row)} needs "cassette", "interactions_on_disk" and a list of integers "never_replayed_ids"`);
    }
    const file = path.resolve(base, cassette);
    const seen = usages.get(file);
    if (!seen) {
      usages.set(file, { shown: storage.show(file), onDisk: onDisk as number, unused: new Set(ids as number[]) });
      continue;
    }
    if (seen.onDisk !== onDisk) throw new Error(`the reports disagree on ${cassette}: ${seen.onDisk} and ${String(onDisk)} interactions; they were made from different versions of it`);
    const alsoUnused = new Set(ids as number[]);
    seen.unused = new Set([...seen.unused].filter((id) => alsoUnused.has(id)));
  }
}

/** Prunes one cassette; throws (the file untouched) when it is not the one the reports describe. */
async function prune(file: string, usage: Usage, dryRun: boolean): Promise<string> {
  const { shown, onDisk, unused } = usage;
  const loaded = await loadCassette(file);
  const { interactions } = loaded;
  if (loaded.pending) throw new Error(`${shown}: a save is under way (is a proxy recording into it?); left unchanged`);
  // The ids are those of the file the proxy loaded: a file with another count has changed since.
  if (interactions.length !== onDisk) {
    throw new Error(`${shown} has ${interactions.length} interaction(s), the report was made when it had ${onDisk}: it changed since the run; left unchanged`);
  }
  const ids = new Set<number>();
  const repeated = new Set<number>();
  for (const { interaction } of interactions) (ids.has(interaction.id) ? repeated : ids).add(interaction.id);
  const missing = [...unused].filter((id) => !ids.has(id));
  const ambiguous = [...unused].filter((id) => repeated.has(id));
  if (missing.length > 0 || ambiguous.length > 0) {
    const why = missing.length > 0 ? `has no interaction with id ${missing.join(', ')}` : `has several interactions with id ${ambiguous.join(', ')}`;
    throw new Error(`${shown} ${why}, so it is not the file the report describes; left unchanged`);
  }
  const removed = interactions.filter(({ interaction }) => unused.has(interaction.id));
  if (removed.length === 0) return `${shown}: every interaction was replayed; unchanged`;
  const listed = removed.map(({ interaction: i }) => `  - id ${i.id} ${i.request.method} ${requestPath(i.request.url)}\n`).join('');
  if (dryRun) return `${shown}: would remove ${removed.length} of ${interactions.length} interaction(s):\n${listed.trimEnd()}`;
  // Read again under the lease: what a proxy appended since the first read must not be dropped.
  const current = await storage.withLease(file, async () => {
    const now = await loadCassette(file);
    if (now.pending || now.interactions.length !== interactions.length) return false;
    await writeCassette(file, now.interactions.filter(({ interaction }) => !unused.has(interaction.id)), now.version, now.header);
    return true;
  });
  if (!current) throw new Error(`${shown} changed while it was being pruned (is a proxy recording into it?); left unchanged`);
  return `${shown}: removed ${removed.length} of ${interactions.length} interaction(s), ${interactions.length - removed.length} left (ids renumbered from 0):\n${listed.trimEnd()}`;
}
