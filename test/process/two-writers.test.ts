/**
 * Two proxies recording into one cassette (two replicas on one volume): the second is refused at
 * once, loudly, and every interaction the first answered lands. When the first is killed (SIGKILL),
 * the second takes its lease over within seconds; a clean stop gives the lease up.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { FakeUpstream } from '../support/fake-upstream.js';
import { tempDir } from '../support/paths.js';
import { readCassetteYaml } from '../support/proxy.js';
import { runBin, spawnProxy, type ProxyProcess } from '../support/spawn.js';
import { eventually } from '../support/wait.js';

async function chat(proxy: ProxyProcess, n: number): Promise<{ status: number; code?: string; message?: string }> {
  const body = JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: `echo: call ${n}` }] });
  const res = await fetch(`${proxy.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const text = await res.text();
  return res.status === 200 ? { status: 200 } : { status: res.status, ...JSON.parse(text).error };
}

test('a second proxy recording into the same cassette is refused at once (409, logged, counted); every answered interaction lands; after SIGKILL of the first, the second takes over', { timeout: 60_000 }, async (t) => {
  const upstream = await FakeUpstream.start({ eventSpacingMs: 1 });
  t.after(() => upstream.close());
  const temp = await tempDir();
  t.after(temp.remove);
  const args = ['--port', '0', '--upstream', upstream.url, '--cassette-dir', temp.dir, '--cassette', 'shared', '--log-level', 'warn'];
  const first = await spawnProxy(t, args);
  const second = await spawnProxy(t, args);
  assert.equal((await chat(first, 0)).status, 200);

  // Both replicas take traffic at once, as behind a load balancer.
  const results = await Promise.all(Array.from({ length: 40 }, (_, n) => chat(n % 2 ? second : first, n + 1)));
  const fromFirst = results.filter((_, n) => n % 2 === 0);
  const fromSecond = results.filter((_, n) => n % 2 === 1);
  assert.ok(fromFirst.every((r) => r.status === 200));
  for (const refused of fromSecond) {
    assert.equal(refused.status, 409);
    assert.equal(refused.code, 'cassette_locked');
    assert.match(refused.message!, /shared\.yaml is being recorded by another process \(process \d+ on /);
  }
  assert.equal(upstream.requests.length, 21, 'the refused requests were never forwarded');
  await eventually(() => assert.ok(second.stderr().split('\n').some((l) => l.includes('"level":50') && l.includes('being recorded by another process'))));
  const metrics = await (await fetch(`${second.url}/_proxy/metrics`)).text();
  assert.match(metrics, /cassette_proxy_cassette_lease_conflicts_total\{event="refused"\} 20/);

  // Everything the first answered is on disk once it has saved.
  const onDisk = async () => ((await (await fetch(`${first.url}/_proxy/cassettes`)).json()) as { cassettes: { interactions_on_disk: number }[] }).cassettes[0]!.interactions_on_disk;
  await eventually(async () => assert.equal(await onDisk(), 21));
  await first.stop('SIGKILL');
  const file = path.join(temp.dir, 'shared.yaml');
  assert.equal((await readCassetteYaml(file)).interactions.length, 21);
  assert.ok(existsSync(path.join(temp.dir, '.shared.yaml.lock')), 'a killed process leaves its lease behind');

  // The first is gone: the second takes its lease over and records. Both ran in this pid
  // namespace, which proves the first gone, so it need not wait the 5 s a lease takes to expire.
  const started = Date.now();
  assert.equal((await chat(second, 100)).status, 200);
  assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  assert.equal(JSON.parse(await readFile(path.join(temp.dir, '.shared.yaml.lock'), 'utf8')).pid, second.child.pid);
  assert.equal(await second.stop('SIGTERM'), 0);
  const cassette = await readCassetteYaml(file);
  assert.equal(cassette.interactions.length, 22);
  assert.deepEqual(
    cassette.interactions.map((i: { id: number }) => i.id),
    Array.from({ length: 22 }, (_, i) => i),
  );
  assert.ok(!existsSync(path.join(temp.dir, '.shared.yaml.lock')), 'a clean stop gives the lease up');
});

test('a replay-only proxy takes no lease: it replays a cassette another proxy is recording into', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const temp = await tempDir();
  t.after(temp.remove);
  const recorder = await spawnProxy(t, ['--port', '0', '--upstream', upstream.url, '--cassette-dir', temp.dir, '--cassette', 'shared']);
  assert.equal((await chat(recorder, 1)).status, 200);
  await eventually(async () => assert.ok(existsSync(path.join(temp.dir, 'shared.yaml'))));
  const replayer = await spawnProxy(t, ['--mode', 'replay', '--port', '0', '--upstream', upstream.url, '--cassette-dir', temp.dir, '--cassette', 'shared']);
  assert.equal((await chat(replayer, 1)).status, 200);
  assert.equal(await replayer.stop(), 0);
  assert.ok(existsSync(path.join(temp.dir, '.shared.yaml.lock')), 'the recorder still holds its lease');
  assert.equal((await chat(recorder, 2)).status, 200);
  assert.equal(await recorder.stop(), 0);
  assert.equal((await readCassetteYaml(path.join(temp.dir, 'shared.yaml'))).interactions.length, 2);
});

test('redact, merge and prune refuse a cassette a proxy is recording into (its saves would be lost), and leave it as it was', { timeout: 60_000 }, async (t) => {
  const upstream = await FakeUpstream.start({ eventSpacingMs: 1 });
  t.after(() => upstream.close());
  const temp = await tempDir();
  t.after(temp.remove);
  const recorder = await spawnProxy(t, ['--port', '0', '--upstream', upstream.url, '--cassette-dir', temp.dir, '--cassette', 'live', '--log-level', 'warn']);
  assert.equal((await chat(recorder, 0)).status, 200);
  const file = path.join(temp.dir, 'live.yaml');
  await eventually(async () => assert.equal((await readCassetteYaml(file)).interactions.length, 1));
  const before = await readFile(file, 'utf8');
  const report = path.join(temp.dir, 'usage.json');
  await writeFile(report, JSON.stringify({ cassettes: [{ cassette: 'live.yaml', interactions_on_disk: 1, never_replayed_ids: [0] }] }));
  for (const args of [['redact', file], ['merge', file, file], ['prune', '--usage', report, '--base', temp.dir]]) {
    const run = await runBin(args);
    assert.equal(run.code, 1, `${args[0]}: ${run.stdout}${run.stderr}`);
    assert.match(run.stdout + run.stderr, /is being recorded by another process/, args[0]);
  }
  assert.equal(await readFile(file, 'utf8'), before, 'the cassette is untouched');
  assert.equal((await chat(recorder, 1)).status, 200, 'the proxy still records');
  assert.equal(await recorder.stop(), 0);
  // Once the proxy gave its lease up, the tools work.
  assert.equal((await runBin(['merge', file, file])).code, 0);
});
