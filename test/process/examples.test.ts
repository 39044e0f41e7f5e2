/**
 * The examples as a user runs them, against the packed package: each is copied without its
 * cassettes into a project of its own, installs the tarball, records through a fake OpenAI
 * (`npm test`), then replays in CI (`CI=true npm test`) without contacting it. The node:test
 * example is TypeScript compiled with `tsc --strict` (no skipLibCheck), so it also checks the
 * package's type declarations.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { before, test } from 'node:test';
import { FakeUpstream } from '../support/fake-upstream.js';
import { REPO_ROOT, tempDir } from '../support/paths.js';

const run = promisify(execFile);
let tarball: string;
let workspace: string;

before(async () => {
  const temp = await tempDir('cassette-proxy-examples-');
  workspace = temp.dir;
  process.once('exit', () => void temp.remove());
  // dist/ is what `npm test` just built: `prepare` would rebuild it while other test files import it.
  await run('npm', ['pack', '--pack-destination', workspace, '--silent', '--ignore-scripts'], { cwd: REPO_ROOT, timeout: 120_000 });
  tarball = path.join(workspace, (await readdir(workspace)).find((f) => f.endsWith('.tgz'))!);
});

/**
 * `npm test` in `dir`, with CI set or not (CI itself runs with CI=true). NODE_TEST_CONTEXT is
 * dropped too: with it, the example's own `node --test` would report to this runner instead of running.
 */
async function npmTest(dir: string, env: Record<string, string>): Promise<void> {
  const { CI: _ci, NODE_TEST_CONTEXT: _context, ...rest } = process.env;
  try {
    await run('npm', ['test'], { cwd: dir, env: { ...rest, ...env }, timeout: 120_000 });
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    assert.fail(`npm test failed in ${path.basename(dir)}:\n${stdout}\n${stderr}`);
  }
}

for (const example of ['node-test', 'vitest']) {
  test(`examples/${example}: records once through the packed package, then replays in CI with zero upstream contact`, { timeout: 300_000 }, async (t) => {
    const dir = path.join(workspace, example);
    await cp(path.join(REPO_ROOT, 'examples', example), dir, {
      recursive: true,
      filter: (source) => !/[/\\](?:cassettes|node_modules|dist)$/.test(source),
    });
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: dir, timeout: 180_000 });
    const upstream = await FakeUpstream.start();
    t.after(() => upstream.close());

    await npmTest(dir, { OPENAI_UPSTREAM: upstream.url });
    const recorded = upstream.requests.length;
    assert.ok(recorded > 0, 'the first run recorded from the upstream');
    assert.ok((await readdir(path.join(dir, 'cassettes'))).some((f) => f.endsWith('.yaml')));

    await npmTest(dir, { CI: 'true', OPENAI_UPSTREAM: upstream.url });
    assert.equal(upstream.requests.length, recorded, 'replay in CI contacted nothing');

    // The bin through npx, as the docs and the pre-commit recipe use it in a project that installed the package.
    const { stdout } = await run('npx', ['--no-install', 'cassette-proxy', '--version'], { cwd: dir });
    assert.equal(stdout.trim(), JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')).version);
    await run('npx', ['--no-install', 'cassette-proxy', 'scan', 'cassettes/'], { cwd: dir }); // throws unless it exits 0
  });
}
