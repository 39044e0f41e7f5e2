/**
 * Findings of an outside probe of the built bin: each test is a defect that still breaks after the
 * hardening pass (red until fixed).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, statSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { MAX_CASSETTE_BYTES } from '../../src/storage/backend.js';
import { FakeUpstream } from '../support/fake-upstream.js';
import { REPO_ROOT, tempDir } from '../support/paths.js';
import { BIN, runBin, spawnProxy } from '../support/spawn.js';
import { eventually } from '../support/wait.js';

test('SIGTERM does not exit 0 when interactions it was to save could not be saved', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const temp = await tempDir();
  t.after(temp.remove);
  const dir = path.join(temp.dir, 'cassettes');
  const proxy = await spawnProxy(t, ['--port', '0', '--upstream', upstream.url, '--cassette-dir', dir]);
  const call = async (): Promise<void> => {
    const res = await fetch(`${proxy.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"m","input":"x"}' });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  };
  await call();
  await eventually(() => assert.ok(existsSync(path.join(dir, 'default.yaml'))));
  // The cassette folder is replaced by a file (a volume unmounted, a careless `rm -r && touch`).
  await rm(dir, { recursive: true });
  await writeFile(dir, 'not a folder');
  await call();
  assert.notEqual(await proxy.stop('SIGTERM'), 0, 'exited 0 though the second interaction was never saved');
});

test('merge refuses to write a cassette larger than the proxy loads (and writes nothing)', async (t) => {
  const temp = await tempDir();
  t.after(temp.remove);
  // Three valid cassettes of 90 MiB each: each loads, together they are over the 256 MiB limit.
  const body = 'x'.repeat(90 * 1024 * 1024);
  const inputs: string[] = [];
  for (let i = 0; i < 3; i++) {
    const file = path.join(temp.dir, `part${i}.yaml`);
    await writeFile(
      file,
      `version: 2\ninteractions:\n  - id: 0\n    request:\n      method: POST\n      url: https://api.openai.com/v1/part${i}\n      body: ""\n    response:\n      code: 200\n      status: 200 OK\n      body: ${body}\n`,
    );
    inputs.push(file);
  }
  const out = path.join(temp.dir, 'merged.yaml');
  const child = spawn(process.execPath, [BIN, 'merge', out, ...inputs], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const [code] = await once(child, 'exit');
  if (code === 0) {
    const size = statSync(out).size;
    assert.ok(size <= MAX_CASSETTE_BYTES, `merge exited 0 and wrote ${size} bytes, which the proxy and inspect refuse to load`);
  } else {
    assert.equal(code, 1, stderr);
    assert.equal(existsSync(out), false, 'a refused merge wrote its output');
  }
});

test('a single-value flag given twice is a usage error (exit 2) that names that flag', async () => {
  for (const args of [
    ['--host', '127.0.0.1', '--host', '::1'],
    ['--cassette', 'a', '--cassette', 'b'],
    ['--upstream', 'http://127.0.0.1:1', '--upstream', 'http://127.0.0.1:2'],
  ]) {
    const { code, stderr } = await runBin([...args, '--port', '0']);
    assert.equal(code, 2, `${args.join(' ')}: exit ${code}, ${stderr}`);
    assert.ok(stderr.includes(args[0]!) && !/TypeError|is not a function/.test(stderr), `${args.join(' ')}: ${stderr}`);
  }
});
