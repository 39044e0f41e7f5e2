/**
 * Crash safety: the proxy is killed with SIGKILL at random moments while it records. After every
 * kill the cassette loads (with our loader and with plain js-yaml), and it holds at least every
 * interaction the proxy had reported saved just before the kill.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { load } from 'js-yaml';
import { readCassetteFile } from '../support/cassettes.js';
import { FakeUpstream } from '../support/fake-upstream.js';
import { tempDir } from '../support/paths.js';
import { spawnProxy } from '../support/spawn.js';
import { eventually } from '../support/wait.js';

const ROUNDS = 20;

test(`SIGKILL at random moments while recording, ${ROUNDS} rounds: every cassette loads and keeps every saved interaction`, { timeout: 120_000 }, async (t) => {
  const upstream = await FakeUpstream.start({ eventSpacingMs: 1 });
  t.after(() => upstream.close());
  const temp = await tempDir();
  t.after(temp.remove);
  const file = path.join(temp.dir, 'crash.yaml');
  let lastCount = 0;

  for (let round = 0; round < ROUNDS; round++) {
    const proxy = await spawnProxy(t, ['--port', '0', '--upstream', upstream.url, '--cassette-dir', temp.dir, '--cassette', 'crash', '--log-level', 'warn']);
    let running = true;
    const worker = async (w: number): Promise<void> => {
      for (let n = 0; running; n++) {
        const body = JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: `echo: round ${round} worker ${w} call ${n} ${'x'.repeat(n % 7 * 500)}` }] });
        try {
          const res = await fetch(`${proxy.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
          await res.arrayBuffer();
        } catch {
          return; // the proxy is gone
        }
      }
    };
    const workers = Array.from({ length: 8 }, (_, w) => worker(w));
    const onDisk = async (): Promise<number> =>
      ((await (await fetch(`${proxy.url}/_proxy/cassettes`)).json()) as { cassettes: { interactions_on_disk: number }[] }).cassettes[0]?.interactions_on_disk ?? 0;
    // Let this round save something new, then kill it at a random moment of what follows.
    await eventually(async () => assert.ok((await onDisk()) > lastCount, `round ${round}: nothing new was saved`), 5000);
    await sleep(Math.random() * 150);
    const saved = await onDisk();
    await proxy.stop('SIGKILL');
    running = false;
    await Promise.all(workers);

    const cassette = await readCassetteFile(file).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' && saved === 0 && lastCount === 0) return { interactions: [] };
      throw err;
    });
    const count = cassette.interactions.length;
    assert.ok(count >= saved, `round ${round}: ${count} interactions on disk, ${saved} were reported saved`);
    assert.ok(count >= lastCount, `round ${round}: nothing that was on disk before was lost`);
    assert.deepEqual(
      cassette.interactions.map((i) => i.id),
      Array.from({ length: count }, (_, i) => i),
    );
    if (count > 0) assert.equal((load(await readFile(file, 'utf8')) as { interactions: unknown[] }).interactions.length, count);
    lastCount = count;
  }
  const leftovers = (await readdir(temp.dir)).filter((f) => f.endsWith('.tmp'));
  assert.ok(leftovers.length <= 1, `temp files of killed processes are cleaned up by the next one (left: ${leftovers.join(', ')})`);
});
