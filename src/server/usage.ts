/**
 * The usage report: each cassette in use, with what is on disk, what was replayed and never
 * replayed, what was recorded and what could not be saved (GET /_proxy/cassettes, the shutdown summary).
 */
import type { CassetteSummary } from '../admin/routes.js';
import { requestPath } from '../cassette/describe.js';
import { displayPath } from '../storage/names.js';
import type { CassetteStore } from '../storage/store.js';
import type { Interaction } from '../cassette/types.js';
import type { Logger } from '../log.js';
import type { MatchTable } from '../match/table.js';
import type { ReplayCassettes } from '../replay/cassettes.js';

/** How many never-replayed interactions a shutdown summary names per cassette: one log line stays readable. */
const SUMMARY_LISTED = 50;

interface UsageRow {
  row: CassetteSummary;
  /** The interactions never replayed, for a cassette loaded for replay whose counts cover the whole run. */
  neverReplayed?: Interaction[];
}

export class Usage {
  constructor(
    private readonly replayCassettes: ReplayCassettes,
    private readonly store: CassetteStore,
  ) {}

  /** The /_proxy/cassettes rows, each with the ids of the interactions never replayed when it was loaded for replay. */
  cassettes(): CassetteSummary[] {
    return this.rows().map(({ row, neverReplayed }) => (neverReplayed ? { ...row, never_replayed_ids: neverReplayed.map((i) => i.id) } : row));
  }

  /** Logs the summary at shutdown (at error when recordings could not be saved) and answers its rows. */
  logSummary(log: Logger): CassetteSummary[] {
    const rows = this.rows();
    const summary = rows.map(({ row }) => row);
    const unsaved = summary.reduce((sum, row) => sum + row.unsaved, 0);
    const logged = rows.map(summaryRow);
    if (unsaved > 0) log.error({ cassettes: logged, unsaved }, `cassette summary: ${unsaved} recorded interactions could not be saved (see unsaved and last_save_error)`);
    else log.info({ cassettes: logged }, 'cassette summary');
    return summary;
  }

  private rows(): UsageRow[] {
    const rows = new Map<string, { row: CassetteSummary; table?: MatchTable; recordedFrom?: number }>();
    const noSaves = { unsaved: 0, save_failures: 0, last_save_error: null };
    for (const { file, table } of this.replayCassettes.loaded()) {
      const counts = table?.usage() ?? { interactions: 0, replayed: 0, neverReplayed: 0 };
      // Only counts that cover the whole run may name recordings as unused: prune deletes what they name.
      const complete = this.replayCassettes.countsComplete(file);
      rows.set(file, { row: { cassette: displayPath(file), interactions_on_disk: counts.interactions, replayed: counts.replayed, never_replayed: counts.neverReplayed, recorded_since_start: 0, ...noSaves }, ...(complete && { table }) });
    }
    for (const cassette of this.store.all()) {
      const { onDisk, recordedSinceStart, unsaved, saveFailures, lastSaveError } = cassette.stats();
      const entry = rows.get(cassette.file) ?? { row: { cassette: displayPath(cassette.file), interactions_on_disk: 0, replayed: 0, never_replayed: 0, recorded_since_start: 0, ...noSaves } };
      const { row } = entry;
      row.interactions_on_disk = Math.max(row.interactions_on_disk, onDisk);
      row.never_replayed = row.interactions_on_disk - row.replayed;
      Object.assign(row, { recorded_since_start: recordedSinceStart, unsaved, save_failures: saveFailures, last_save_error: lastSaveError ?? null });
      // What this process recorded went at the end of the file, and has had no chance to be replayed.
      if (entry.table && recordedSinceStart > 0) entry.recordedFrom = onDisk - recordedSinceStart;
      rows.set(cassette.file, entry);
    }
    return [...rows.values()]
      .sort((a, b) => a.row.cassette.localeCompare(b.row.cassette))
      .map(({ row, table, recordedFrom }) => ({ row, neverReplayed: table?.neverReplayed(recordedFrom) }));
  }
}

/** A cassette's row in the shutdown summary: the interactions never replayed by id, method and path (the first SUMMARY_LISTED). */
function summaryRow({ row, neverReplayed }: UsageRow): object {
  if (!neverReplayed) return row;
  const listed = neverReplayed.slice(0, SUMMARY_LISTED).map((i) => ({ id: i.id, method: i.request.method, path: requestPath(i.request.url) }));
  const rest = neverReplayed.length - listed.length;
  return { ...row, never_replayed_interactions: listed, ...(rest > 0 && { never_replayed_not_listed: rest }) };
}
