import assert from 'node:assert/strict';
import { readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { Leases, leaseFile } from '../../src/storage/lease.js';
import { SIDE_FILE_BYTES } from '../../src/storage/names.js';
import { silentLogger } from '../../src/log.js';
import { tempDir } from '../support/paths.js';

/** A lease another container wrote (its pid proves nothing here), last renewed `ageMs` ago. */
async function foreignLease(file: string, ageMs: number): Promise<void> {
  const lease = leaseFile(file);
  await writeFile(lease, `${JSON.stringify({ owner: 'elsewhere', host: 'other', pid: 1, since: 'then', namespace: 'other-boot pid:[1]', start: '1' })}\n`);
  const at = new Date(Date.now() - ageMs);
  await utimes(lease, at, at);
}

const outcome = (p: Promise<void>) => p.then(() => 'held', (err: any) => err.code as string);

test('processes taking over one expired lease at once: exactly one wins, every time', async (t) => {
  const { dir, remove } = await tempDir();
  const everyone: Leases[] = [];
  // Leases first (their renewals write into the folder), then the folder.
  t.after(async () => {
    await Promise.all(everyone.map((l) => l.releaseAll()));
    await remove();
  });
  for (let round = 0; round < 200; round++) {
    const file = path.join(dir, `c${round}.yaml`);
    await foreignLease(file, 10_000);
    const contenders = Array.from({ length: 4 }, () => new Leases(silentLogger()));
    everyone.push(...contenders);
    const results = await Promise.all(contenders.map((l) => outcome(l.claim(file))));
    assert.deepEqual(results.filter((r) => r === 'held').length, 1, `round ${round}: ${results.join(', ')}`);
    assert.ok(results.every((r) => r === 'held' || r === 'cassette_locked'), results.join(', '));
    // The winner's lease is the one on disk, and it alone may save.
    const winner = contenders[results.indexOf('held')]!;
    await winner.confirm(file);
    for (const [i, l] of contenders.entries()) if (results[i] !== 'held') await assert.rejects(l.confirm(file), (err: any) => err.code === 'cassette_locked');
    assert.notEqual(JSON.parse(await readFile(leaseFile(file), 'utf8')).owner, 'elsewhere');
  }
});

test('a live lease is never taken over; a lease never blocks its own holder; release gives it up', async (t) => {
  const { dir, remove } = await tempDir();
  t.after(remove);
  const file = path.join(dir, 'c.yaml');
  await foreignLease(file, 1000);
  const mine = new Leases(silentLogger());
  t.after(() => mine.releaseAll());
  assert.equal(await outcome(mine.claim(file)), 'cassette_locked');
  await foreignLease(file, 6000);
  assert.equal(await outcome(mine.claim(file)), 'held');
  assert.equal(await outcome(mine.claim(file)), 'held');
  await mine.confirm(file);
  const other = new Leases(silentLogger());
  assert.equal(await outcome(other.claim(file)), 'cassette_locked');
  await mine.releaseAll();
  assert.equal(await outcome(other.claim(file)), 'held');
  await other.releaseAll();
});

test('the files kept next to a cassette fit in the room its name leaves them', () => {
  const base = `${'x'.repeat(218)}.yaml`;
  const lease = path.basename(leaseFile(`/c/${base}`));
  const marker = `${lease}.${'f'.repeat(16)}`; // a takeover marker (16 hex digits)
  const temp = `.${base}.${4194304}.${Number.MAX_SAFE_INTEGER}.tmp`; // the largest pid Linux gives, the largest counter
  for (const name of [lease, marker, temp]) assert.ok(Buffer.byteLength(name) - Buffer.byteLength(base) <= SIDE_FILE_BYTES, name);
});
