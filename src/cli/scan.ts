/** `cassette-proxy scan <dir>`: reports anything in the cassettes under a folder that looks like a credential. */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import yargs from 'yargs';
import { displayPath } from '../cassette/names.js';
import { readCassette } from '../cassette/store.js';
import { describeCause } from '../errors.js';
import { findLeaks } from '../redact/leaks.js';

/** Returns the exit status: 0 when nothing was found, 1 when something was (or a cassette could not be read). */
export async function runScan(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const args = await yargs(argv)
    .scriptName('cassette-proxy')
    .command('scan <dir>', 'Report cassettes that hold something that looks like a credential (exit 1)')
    .positional('dir', { type: 'string', demandOption: true })
    .option('redact-header', { type: 'string', array: true, default: [] as string[], describe: 'Another header that must be redacted' })
    .strict()
    .help()
    .version(false)
    .parseAsync();
  const dir = String(args.dir);
  const files = await cassetteFiles(dir);
  let problems = 0;
  for (const file of files) {
    const shown = displayPath(file);
    try {
      const cassette = await readCassette(file, shown);
      for (const interaction of cassette.interactions) {
        for (const leak of findLeaks(interaction, args['redact-header'])) {
          problems++;
          out.write(`${shown}: interaction ${interaction.id}: ${leak.where} holds ${leak.what}\n`);
        }
      }
    } catch (err) {
      problems++;
      out.write(`${shown}: cannot be checked: ${describeCause(err)}\n`);
    }
  }
  out.write(problems === 0 ? `no credentials found in ${files.length} cassette(s) under ${dir}\n` : `${problems} problem(s) in ${files.length} cassette(s); fix them with cassette-proxy redact <file>\n`);
  return problems === 0 ? 0 : 1;
}

async function cassetteFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => path.join(e.parentPath ?? e.path, e.name))
    .sort();
}
