/** `cassette-proxy redact <file>`: applies the redaction rules to a cassette and rewrites it in place, atomically. */
import path from 'node:path';
import yargs from 'yargs';
import { cassetteText, serializeInteraction } from '../cassette/codec.js';
import { displayPath } from '../cassette/names.js';
import { readCassette, writeAtomically } from '../cassette/store.js';
import { findLeaks } from '../redact/leaks.js';
import { Redactor } from '../redact/redactor.js';
import { jsonPaths } from './options.js';
import { leakLine, usageFailure } from './scan.js';

/** Returns the exit status: 0 when the rewritten cassette has nothing left that looks like a credential. */
export async function runRedact(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const args = await yargs(argv)
    .scriptName('cassette-proxy')
    .command('redact <file>', 'Redact a cassette in place (atomically), with the same rules as recording')
    .positional('file', { type: 'string', demandOption: true })
    .option('redact-header', { type: 'string', array: true, nargs: 1, default: [] as string[], describe: 'Another header to redact' })
    .option('redact-body-field', { type: 'string', array: true, nargs: 1, default: [] as string[], describe: 'A JSON body field to redact, e.g. messages[*].content' })
    .strict()
    .help()
    .version(false)
    .fail(usageFailure)
    .parseAsync();
  const file = String(args.file);
  const bodyFields = jsonPaths('redact-body-field', args['redact-body-field']);
  const redactor = new Redactor({ headers: args['redact-header'], bodyFields });
  const shown = displayPath(file);
  const cassette = await readCassette(file, shown);
  const before = cassette.interactions.reduce((n, i) => n + findLeaks(i, args['redact-header']).length, 0);
  const redacted = cassette.interactions.map((interaction) => ({ ...redactor.redact(interaction), id: interaction.id }));
  await writeAtomically(path.resolve(file), [Buffer.from(cassetteText(redacted.map(serializeInteraction)))]);
  let after = 0;
  for (const interaction of redacted) {
    for (const leak of findLeaks(interaction, args['redact-header'])) {
      after++;
      out.write(`${leakLine(shown, interaction.id, leak, args['redact-header'])}\n`);
    }
  }
  out.write(`${shown}: ${cassette.interactions.length} interaction(s) rewritten; findings before: ${before}, after: ${after}\n`);
  return after === 0 ? 0 : 1;
}
