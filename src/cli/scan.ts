/**
 * `cassette-proxy scan <path…>`: reports anything in cassettes that looks like a credential, one
 * line per finding, each with the command that fixes it. Paths are cassette files (a pre-commit
 * hook passes the staged ones) or folders, searched for .yaml files outside node_modules and .git.
 */
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import yargs from 'yargs';
import { displayPath } from '../cassette/names.js';
import { readCassette } from '../cassette/store.js';
import { describeCause } from '../errors.js';
import { findLeaks, type Leak } from '../redact/leaks.js';
import { UsageError } from './options.js';

/** Returns the exit status: 0 when nothing was found, 1 when something was (or a cassette could not be read). */
export async function runScan(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const args = await yargs(argv)
    .scriptName('cassette-proxy')
    .command('scan <paths..>', 'Report cassettes (files, or the .yaml files under folders) that hold something that looks like a credential (exit 1)')
    .positional('paths', { type: 'string', array: true, demandOption: true })
    .option('redact-header', { type: 'string', array: true, nargs: 1, default: [] as string[], describe: 'Another header that must be redacted' })
    .strict()
    .help()
    .version(false)
    .fail(usageFailure)
    .parseAsync();
  const paths = (args.paths as string[]).map(String);
  const extraHeaders = args['redact-header'];
  const files = await cassetteFiles(paths);
  let problems = 0;
  for (const file of files) {
    const shown = displayPath(file);
    try {
      const cassette = await readCassette(file, shown);
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
  const headers = [...extraHeaders];
  if (leak.header && !headers.some((h) => h.toLowerCase() === leak.header!.toLowerCase())) headers.push(leak.header);
  const flags = headers.map((h) => ` --redact-header ${shellWord(h)}`).join('');
  const record = leak.header ? ` (and record with --redact-header ${shellWord(leak.header)})` : '';
  return `${shown}: interaction ${id}: ${leak.where} holds ${leak.what}; fix: cassette-proxy redact${flags} ${shellWord(shown)}${record}`;
}

/** yargs' complaint about the command line, as a usage error (exit status 2). */
export function usageFailure(message: string | undefined, err: Error | undefined): never {
  throw err instanceof UsageError ? err : new UsageError(message || err?.message || 'invalid arguments');
}

function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/** Files as given (in order), and the .yaml/.yml files under each folder (sorted). */
async function cassetteFiles(paths: readonly string[]): Promise<string[]> {
  const files = new Set<string>();
  for (const given of paths) {
    let isFolder: boolean;
    try {
      isFolder = (await stat(given)).isDirectory();
    } catch (err) {
      throw new UsageError(`${given}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : describeCause(err)}`);
    }
    if (!isFolder) files.add(given);
    else for (const file of (await yamlFilesUnder(given)).sort()) files.add(file);
  }
  return [...files];
}

/** Dependencies and git's own store hold no cassettes of ours, and can be huge. */
const SKIPPED_FOLDERS = new Set(['node_modules', '.git']);

async function yamlFilesUnder(dir: string): Promise<string[]> {
  const entries: Dirent[] = await readdir(dir, { withFileTypes: true });
  const out: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIPPED_FOLDERS.has(entry.name)) out.push(...(await yamlFilesUnder(full)));
    } else if (entry.isFile() && /\.ya?ml$/.test(entry.name)) {
      out.push(full);
    }
  }
  return out;
}
