/**
 * What the Docker image does, without Docker: the packed package plus the lockfile, installed with
 * production dependencies only, started with the Dockerfile's ENV and ENTRYPOINT, probed with its
 * HEALTHCHECK. A runtime import of a dev dependency fails here.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { REPO_ROOT, tempDir } from '../support/paths.js';
import { spawnProxy } from '../support/spawn.js';

const run = promisify(execFile);

interface ImageSpec {
  env: Record<string, string>;
  entrypoint: string[];
  healthcheck: string[];
}

/** The runtime stage of the Dockerfile: its ENV pairs, ENTRYPOINT and HEALTHCHECK command. */
async function imageSpec(): Promise<ImageSpec> {
  const text = (await readFile(path.join(REPO_ROOT, 'Dockerfile'), 'utf8')).replace(/\\\n\s*/g, ' ');
  const stage = text.slice(text.lastIndexOf('\nFROM '));
  const env: Record<string, string> = {};
  for (const line of stage.split('\n').filter((l) => l.startsWith('ENV '))) {
    for (const [, k, v] of line.slice(4).matchAll(/(\w+)=(\S+)/g)) env[k!] = v!;
  }
  const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(stage)![1]!) as string[];
  const healthcheck = JSON.parse(/^HEALTHCHECK .*?CMD (\[.*\])$/m.exec(stage)![1]!) as string[];
  return { env, entrypoint, healthcheck };
}

test('the packed package runs with production dependencies only, as the image runs it', { timeout: 180_000 }, async (t) => {
  const spec = await imageSpec();
  assert.equal(spec.env.CASSETTE_PROXY_HOST, '0.0.0.0');
  assert.deepEqual(spec.entrypoint.slice(0, 1), ['node']);

  const temp = await tempDir('cassette-proxy-image-');
  t.after(temp.remove);
  // dist/ is what `npm test` just built: `prepare` would rebuild it while other test files import it.
  await run('npm', ['pack', '--pack-destination', temp.dir, '--silent', '--ignore-scripts'], { cwd: REPO_ROOT, timeout: 120_000 });
  const tarball = (await readdir(temp.dir)).find((f) => f.endsWith('.tgz'))!;
  await run('tar', ['-xzf', tarball], { cwd: temp.dir });
  const app = path.join(temp.dir, 'package');
  // docs/ ships with the package, so the README's links into it work where it is installed too.
  const docsLinks = [...(await readFile(path.join(app, 'README.md'), 'utf8')).matchAll(/\]\((docs\/[^)#\s]+)/g)].map((m) => m[1]!);
  assert.ok(docsLinks.length > 10, 'the README links into docs/');
  for (const link of docsLinks) assert.ok(existsSync(path.join(app, link)), `${link} is in the package`);
  await copyFile(path.join(REPO_ROOT, 'package-lock.json'), path.join(app, 'package-lock.json'));
  await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: app, timeout: 150_000 });
  const installed = await readdir(path.join(app, 'node_modules'));
  for (const dev of ['typescript', 'openai', '@types']) assert.ok(!installed.includes(dev), `${dev} is not installed`);

  const cassettes = path.join(temp.dir, 'cassettes');
  const env = { ...spec.env, CASSETTE_PROXY_PORT: '0', CASSETTE_PROXY_CASSETTE_DIR: cassettes };
  const proxy = await spawnProxy(t, spec.entrypoint.slice(2), { cwd: app, env, bin: path.join(app, spec.entrypoint[1]!) });
  const port = new URL(proxy.url).port;
  const health = await fetch(`http://127.0.0.1:${port}/_proxy/health`);
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { mode: string }).mode, 'record');
  const [command, ...args] = spec.healthcheck;
  assert.equal(command, 'node');
  await run(process.execPath, args, { env: { ...process.env, CASSETTE_PROXY_PORT: port }, timeout: 10_000 }); // throws unless it exits 0
  assert.equal(await proxy.stop('SIGTERM'), 0);
});
