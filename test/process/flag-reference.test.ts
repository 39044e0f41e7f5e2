/** Every option `--help` prints is in the generated flag reference, docs/flags.md. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../support/paths.js';
import { runBin } from '../support/spawn.js';

test('every flag --help prints has a row in docs/flags.md (--help and --version are named in it)', async () => {
  const { code, stdout } = await runBin(['--help']);
  assert.equal(code, 0);
  const printed = [...stdout.matchAll(/^ {2}(--[a-z][a-z-]*)/gm)].map((m) => m[1]!);
  assert.ok(printed.length > 20, stdout);
  const reference = await readFile(path.join(REPO_ROOT, 'docs', 'flags.md'), 'utf8');
  // yargs' own --help and --version are named in the text; every flag of the table has its row.
  const missing = printed.filter((flag) => !reference.includes(flag === '--help' || flag === '--version' ? flag : `| \`${flag}\` |`));
  assert.deepEqual(missing, [], 'run npm run docs:flags');
});
