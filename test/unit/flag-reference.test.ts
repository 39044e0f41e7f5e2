/** docs/flags.md is the rendering of FLAGS, the table `--help` prints: it cannot drift from the command line. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { renderFlagReference } from '../../src/cli/flag-reference.js';
import { FLAGS, envName } from '../../src/cli/options.js';
import { REPO_ROOT } from '../support/paths.js';

test('docs/flags.md is the rendering of FLAGS (run npm run docs:flags after changing a flag)', async () => {
  const written = await readFile(path.join(REPO_ROOT, 'docs', 'flags.md'), 'utf8');
  assert.ok(written === renderFlagReference(), 'docs/flags.md differs from the flag table in src/cli/options.ts: run npm run docs:flags');
});

test('the reference has one row per flag, with its variable and default', () => {
  const rows = renderFlagReference().split('\n').filter((line) => line.startsWith('| `--'));
  assert.equal(rows.length, Object.keys(FLAGS).length);
  for (const [name, spec] of Object.entries(FLAGS)) {
    const row = rows.find((r) => r.startsWith(`| \`--${name}\` |`));
    assert.ok(row, name);
    assert.ok(row.includes(`| \`${envName(name)}\` |`), name);
    const value: unknown = 'default' in spec ? spec.default : undefined;
    const shown = value === undefined || (Array.isArray(value) && value.length === 0) ? 'none' : `\`${String(value)}\``;
    assert.ok(row.includes(`| ${shown} |`), `${name}: ${row}`);
  }
});

test('a description cannot break its table row or turn into markup', () => {
  const rendered = renderFlagReference({ demo: { type: 'string', default: 'x', describe: 'a|b <name> messages[*].content \\d _emphasis_ snake_case /_proxy/' } });
  const row = rendered.split('\n').find((line) => line.startsWith('| `--demo`'))!;
  assert.equal(row, '| `--demo` | `CASSETTE_PROXY_DEMO` | `x` | a\\|b \\<name\\> messages[\\*].content \\\\d \\_emphasis\\_ snake_case /\\_proxy/ |');
});
