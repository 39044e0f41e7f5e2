/**
 * `cassette-proxy scan <path…>`: reports anything in cassettes that looks like a credential, one
 * line per finding, each with the command that fixes it. Paths are cassette files (a pre-commit
 * hook passes the staged ones) or folders, searched for .yaml files outside node_modules and .git.
 */
import { describeCause } from '../errors.js';
import { findLeaks, type Leak } from '../redact/leaks.js';
import { cassetteFiles, readToolCassette, storage } from './cassette-files.js';
import { toolCommand } from './command.js';

const SCAN_EXIT_STATUS = 'Exit status: 0 nothing found; 1 something looks like a credential, or a cassette could not be read; 2 a usage error.';

/** Returns the exit status: 0 when nothing was found, 1 when something was (or a cassette could not be read). */
export async function runScan(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const args = await toolCommand(argv, 'scan <paths..>', 'Report cassettes (files, or the .yaml files under folders) that hold something that looks like a credential, each finding with the command that fixes it', SCAN_EXIT_STATUS)
    .positional('paths', { type: 'string', array: true, demandOption: true })
    .option('redact-header', { type: 'string', array: true, nargs: 1, default: [] as string[], describe: 'Another header that must be redacted' })
    .parseAsync();
  const paths = (args.paths as string[]).map(String);
  const extraHeaders = args['redact-header'];
  const files = await cassetteFiles(paths);
  let problems = 0;
  for (const file of files) {
    const shown = storage.show(file);
    try {
      const cassette = await readToolCassette(file);
      for (const interaction of cassette.interactions) {
        for (const leak of findLeaks(interaction, extraHeaders)) {
          problems++;
          out.write(`${leakLine(shown, interaction.id, leak, extraHeaders)}\n`);
        }
      }
    } catch (err) {
      problems++;
      out.write(`${shown}: cannot be checked: ${describeCause(err)}\n`);
    }
  }
  out.write(problems === 0 ? `no credentials found in ${files.length} cassette(s) under ${paths.join(', ')}\n` : `${problems} problem(s) in ${files.length} cassette(s)\n`);
  return problems === 0 ? 0 : 1;
}

/**
 * One finding and the command that fixes it: `cassette-proxy redact <file>`, with the
 * --redact-header flags it needs (the ones scan was given, and the header the finding names).
 */
export function leakLine(shown: string, id: number, leak: Leak, extraHeaders: readonly string[]): string {
  if (leak.fix) return `${shown}: interaction ${id}: ${leak.where} holds ${leak.what}; fix: ${leak.fix}`;
  const headers = [...extraHeaders];
  if (leak.header && !headers.some((h) => h.toLowerCase() === leak.header!.toLowerCase())) headers.push(leak.header);
  const flags = headers.map((h) => ` --redact-header ${shellWord(h)}`).join('');
  const record = leak.header ? ` (and record with --redact-header ${shellWord(leak.header)})` : '';
  return `${shown}: interaction ${id}: ${leak.where} holds ${leak.what}; fix: cassette-proxy redact${flags} ${shellWord(shown)}${record}`;
}

function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}
