/**
 * docs/flags.md, rendered from the one flag table (FLAGS), the same table `--help` prints: the
 * reference cannot drift from the command line (test/unit/flag-reference.test.ts compares them).
 * `npm run docs:flags` writes it.
 */
import type { Options } from 'yargs';
import { ENV_PREFIX, FLAGS, MAX_SECONDS, envName } from './options.js';

const HEADER = `<!-- Generated from FLAGS in src/cli/options.ts by \`npm run docs:flags\`: edit FLAGS, not this file. -->

# Flags

Every flag can also be set by an environment variable \`${ENV_PREFIX}_<FLAG>\` (upper case, \`-\`
becomes \`_\`); a flag on the command line wins. A bad value exits with status 2 and a message that
names the flag and the variable. \`cassette-proxy --help\` prints this table.

| flag | variable | default | meaning |
|---|---|---|---|
`;

const FOOTER = `
- A repeatable flag may be given several times, or once with a comma-separated list, which is how
  its variable gives several values. \`--match-normalize\` is split on commas only in its variable
  (a regular expression may hold a comma: give such a one on the command line).
- \`--upstream-timeout\`, \`--headers-timeout\` and \`--shutdown-grace\` take at most ${MAX_SECONDS} seconds
  (about 24 days), the longest a Node timer waits.
- A yes/no flag is switched off with \`--no-<flag>\` or the value \`false\` (\`--no-match-builtin-ignore\`,
  \`${envName('match-builtin-ignore')}=false\`).
- A flag that takes a value refuses to start without one (\`--mode\` alone is an error, not the
  default); a flag given twice that is not repeatable is refused; a mistyped flag is named with the
  nearest real one (\`unknown flag --mdoe (did you mean --mode?)\`). \`--version\` prints the version.
- The library (\`startProxy\`) takes the same settings as options in camelCase, with the same
  defaults and checks, and reads no variable: see [library.md](library.md).

What the flags do in context: [matching](matching.md), [redaction](redaction.md),
[cassettes](cassettes.md), [security](security.md), [operations](operations.md).
`;

/** Text for a table cell: what markdown would read as markup or a cell border is escaped. */
function cell(text: string): string {
  return text
    .replace(/[\\`*<>|]/g, '\\$&')
    .replace(/(^|[^A-Za-z0-9])_|_(?=[^A-Za-z0-9]|$)/g, (m) => m.replace('_', '\\_'))
    .replace(/\n/g, ' ');
}

function defaultOf(spec: Options): string {
  const value: unknown = spec.default;
  if (value === undefined || (Array.isArray(value) && value.length === 0)) return 'none';
  return `\`${String(value)}\``;
}

/** The flag reference (docs/flags.md) as markdown, one table row per flag in FLAGS' order. */
export function renderFlagReference(flags: Record<string, Options> = FLAGS): string {
  const rows = Object.entries(flags).map(([name, spec]) => `| \`--${name}\` | \`${envName(name)}\` | ${defaultOf(spec)} | ${cell(spec.describe ?? '')} |`);
  return `${HEADER}${rows.join('\n')}\n${FOOTER}`;
}
