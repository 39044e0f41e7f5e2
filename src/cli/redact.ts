/**
 * `cassette-proxy redact <path…>`: applies the redaction rules to cassettes (files, or the .yaml
 * files under folders) and rewrites each in place, atomically.
 */
import { isDeepStrictEqual } from 'node:util';
import { cassetteText, serializeInteraction } from '../cassette/codec.js';
import { decodeStoredBody } from '../cassette/decode.js';
import { findLeaks } from '../redact/leaks.js';
import { Redactor } from '../redact/redactor.js';
import { cassetteFiles, problemWith, readToolCassette, storage } from './cassette-files.js';
import { toolCommand } from './command.js';
import { jsonPaths } from './options.js';
import { leakLine } from './scan.js';

const REDACT_EXIT_STATUS =
  'Exit status: 0 every cassette rewritten with nothing left that looks like a credential; 1 something is left (printed with the flag that fixes it), or a cassette could not be read or written; 2 a usage error.';

/** Returns the exit status: 0 when every rewritten cassette has nothing left that looks like a credential. */
export async function runRedact(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const args = await toolCommand(argv, 'redact <paths..>', 'Redact cassettes in place (atomically), with the same rules as recording', REDACT_EXIT_STATUS)
    .positional('paths', { type: 'string', array: true, demandOption: true, describe: 'Cassette files, or folders to search for .yaml/.yml files' })
    .option('redact-header', { type: 'string', array: true, nargs: 1, default: [] as string[], describe: 'Another header to redact' })
    .option('redact-body-field', { type: 'string', array: true, nargs: 1, default: [] as string[], describe: 'A JSON body field to redact, e.g. messages[*].content' })
    .parseAsync();
  const headers = args['redact-header'];
  const redactor = new Redactor({ headers, bodyFields: jsonPaths('redact-body-field', args['redact-body-field']) });
  let status = 0;
  for (const file of await cassetteFiles(args.paths as string[])) {
    const shown = storage.show(file);
    try {
      // Under the cassette's lease: a proxy recording into it would lose the saves the rewrite drops.
      await storage.withLease(file, async () => {
        const cassette = await readToolCassette(file);
        const before = cassette.interactions.reduce((n, i) => n + findLeaks(i, headers).length, 0);
        // A body still encoded is decoded first (as the recorder stores it), so that redaction sees inside.
        const redacted = cassette.interactions.map((interaction) => ({ ...redactor.redact(decodeStoredBody(interaction) ?? interaction), id: interaction.id }));
        // A file with nothing to redact is left byte for byte as it was (no reformatting diff in a commit).
        const changed = !isDeepStrictEqual(redacted, cassette.interactions);
        if (changed) await storage.write(file, [Buffer.from(cassetteText(redacted.map(serializeInteraction)))], cassette.version);
        let after = 0;
        for (const interaction of redacted) {
          for (const leak of findLeaks(interaction, headers)) {
            after++;
            out.write(`${leakLine(shown, interaction.id, leak, headers)}\n`);
          }
        }
        out.write(changed ? `${shown}: ${cassette.interactions.length} interaction(s) rewritten; findings before: ${before}, after: ${after}\n` : `${shown}: nothing to redact; left as it was\n`);
        if (after > 0) status = 1;
      });
    } catch (error) {
      err.write(`cassette-proxy redact: ${problemWith(shown, error)}\n`);
      status = 1;
    }
  }
  return status;
}
