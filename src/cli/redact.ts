/**
 * `cassette-proxy redact <path…>`: applies the redaction rules to cassettes (files, or the .yaml
 * files under folders) and rewrites each in place, atomically.
 */
import { isDeepStrictEqual } from 'node:util';
import { cassetteText, serializeInteraction } from '../cassette/codec.js';
import { decodeStoredBody } from '../cassette/decode.js';
import { findLeaks } from '../redact/leaks.js';
import { redactKeyProblem } from '../redact/marker.js';
import { Redactor } from '../redact/redactor.js';
import { cassetteFiles, problemWith, readToolCassette, storage } from './cassette-files.js';
import { toolCommand } from './command.js';
import { ENV_PREFIX, UsageError, jsonPaths } from './options.js';
import { leakLine } from './scan.js';

/** The proxy's own variable for --redact-key: a cassette is redacted with the key that replays it. */
const REDACT_KEY_VARIABLE = `${ENV_PREFIX}_REDACT_KEY`;

const REDACT_EXIT_STATUS =
  'Exit status: 0 every cassette rewritten with nothing left that looks like a credential; 1 something is left (printed with the flag that fixes it), or a cassette could not be read or written; 2 a usage error.';

/** Returns the exit status: 0 when every rewritten cassette has nothing left that looks like a credential. */
export async function runRedact(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const args = await toolCommand(argv, 'redact <paths..>', 'Redact cassettes in place (atomically), with the same rules as recording', REDACT_EXIT_STATUS)
    .positional('paths', { type: 'string', array: true, demandOption: true, describe: 'Cassette files, or folders to search for .yaml/.yml files' })
    .option('redact-header', { type: 'string', array: true, nargs: 1, default: [] as string[], describe: 'Another header to redact' })
    .option('redact-body-field', { type: 'string', array: true, nargs: 1, default: [] as string[], describe: 'A JSON body field to redact, e.g. messages[*].content' })
    .option('redact-key', { type: 'string', describe: `The key of the digests redacted values become, as the proxy that replays these cassettes has it (default: the variable ${REDACT_KEY_VARIABLE}, else the public built-in key)` })
    .parseAsync();
  const headers = args['redact-header'];
  const key = args['redact-key'] ?? process.env[REDACT_KEY_VARIABLE];
  const keyProblem = key === undefined ? undefined : redactKeyProblem(key);
  if (keyProblem) throw new UsageError(`--redact-key (${REDACT_KEY_VARIABLE}): ${keyProblem}`, 'redact-key', keyProblem);
  const redactor = new Redactor({ headers, bodyFields: jsonPaths('redact-body-field', args['redact-body-field']), key });
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
