/** `cassette-proxy inspect <cassette…>`: what a cassette holds, one line per interaction, and totals. */
import { describeInteraction, type InteractionFacts } from '../cassette/describe.js';
import { cassetteFiles, problemWith, readToolCassette, storage } from './cassette-files.js';
import { toolCommand } from './command.js';

interface Totals {
  interactions: number;
  streamed: number;
  events: number;
  tokens_in: number;
  tokens_out: number;
  size: number;
}

/** Returns the exit status: 0, or 1 when a cassette could not be read (the others are still shown). */
export async function runInspect(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const args = await toolCommand(argv, 'inspect <cassette..>', 'Show what cassettes hold: one line per interaction (id, method, path, status, model, streamed, SSE events, tokens in/out when the answer says, body bytes) and totals')
    .positional('cassette', { type: 'string', array: true, demandOption: true, describe: 'Cassette files, or folders to search for .yaml/.yml files' })
    .option('json', { type: 'boolean', default: false, describe: 'Print a JSON array instead: one object per cassette with its interactions and totals' })
    .parseAsync();
  let status = 0;
  const reports: { cassette: string; interactions: InteractionFacts[]; totals: Totals }[] = [];
  for (const file of await cassetteFiles(args.cassette as string[])) {
    const shown = storage.show(file);
    try {
      const interactions = (await readToolCassette(file)).interactions.map(describeInteraction);
      reports.push({ cassette: shown, interactions, totals: totalsOf(interactions) });
    } catch (error) {
      err.write(`cassette-proxy inspect: ${problemWith(shown, error)}\n`);
      status = 1;
    }
  }
  if (args.json) {
    out.write(`${JSON.stringify(reports, null, 2)}\n`);
    return status;
  }
  for (const report of reports) out.write(`${report.cassette}\n${table(report.interactions)}  total: ${totalsText(report.totals)}\n`);
  if (reports.length > 1) {
    const all = reports.reduce((sum, r) => add(sum, r.totals), totalsOf([]));
    out.write(`all ${reports.length} cassettes: ${totalsText(all)}\n`);
  }
  return status;
}

function totalsOf(interactions: readonly InteractionFacts[]): Totals {
  return interactions.reduce<Totals>(
    (sum, i) => add(sum, { interactions: 1, streamed: i.streamed ? 1 : 0, events: i.events, tokens_in: i.tokens_in ?? 0, tokens_out: i.tokens_out ?? 0, size: i.size }),
    { interactions: 0, streamed: 0, events: 0, tokens_in: 0, tokens_out: 0, size: 0 },
  );
}

function add(a: Totals, b: Totals): Totals {
  return {
    interactions: a.interactions + b.interactions,
    streamed: a.streamed + b.streamed,
    events: a.events + b.events,
    tokens_in: a.tokens_in + b.tokens_in,
    tokens_out: a.tokens_out + b.tokens_out,
    size: a.size + b.size,
  };
}

function totalsText(t: Totals): string {
  return `${t.interactions} interaction(s), ${t.streamed} streamed, ${t.events} events, ${t.tokens_in} tokens in, ${t.tokens_out} tokens out, ${bytes(t.size)}`;
}

const COLUMNS = ['id', 'method', 'path', 'status', 'model', 'stream', 'events', 'tokens in', 'tokens out', 'size'] as const;
/** Numbers are right-aligned. */
const RIGHT = new Set<string>(['id', 'status', 'events', 'tokens in', 'tokens out', 'size']);

/** The interactions as aligned columns, a header line first, each line indented by two spaces. */
function table(interactions: readonly InteractionFacts[]): string {
  const rows = interactions.map((i) => [
    String(i.id),
    i.method,
    i.path,
    String(i.status),
    i.model ?? '-',
    i.streamed ? 'yes' : 'no',
    i.streamed ? String(i.events) : '-',
    i.tokens_in === null ? '-' : String(i.tokens_in),
    i.tokens_out === null ? '-' : String(i.tokens_out),
    bytes(i.size),
  ]);
  const widths = COLUMNS.map((name, c) => Math.max(name.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: readonly string[]): string =>
    `  ${cells.map((cell, c) => (RIGHT.has(COLUMNS[c]!) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd()}\n`;
  return [COLUMNS, ...rows].map(line).join('');
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  return n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
