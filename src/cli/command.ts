/** The command line of the cassette tools (scan and redact aside): one yargs set-up, one meaning for each exit status. */
import yargs, { type Argv } from 'yargs';
import { UsageError } from './options.js';

export const EXIT_STATUS =
  'Exit status: 0 done; 1 a cassette or report could not be read or written, or a cassette no longer matches its report (the message names the file and why); 2 a usage error.';

/**
 * yargs for `cassette-proxy <command>`: strict flags, --help (which states the exit statuses: yargs
 * shows no epilogue in a command's help); a malformed command line throws UsageError (exit 2).
 */
export function toolCommand(argv: string[], command: string, description: string, exitStatus = EXIT_STATUS): Argv {
  return yargs(argv)
    .scriptName('cassette-proxy')
    .command(command, `${description}.\n\n${exitStatus}`)
    .strict()
    .help()
    .version(false)
    .wrap(Math.min(110, process.stdout.columns || 110))
    .fail((message, err) => {
      throw err instanceof UsageError ? err : new UsageError(message || err?.message || 'invalid arguments');
    });
}
