/**
 * The replay cache: the least recently used cassette is let go first, and one let go after
 * replaying never claims recordings as unused; whether a cassette changed is the storage's to say.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { cassetteText, serializeInteraction } from '../../src/cassette/codec.js';
import { silentLogger } from '../../src/log.js';
import { RequestViewer } from '../../src/match/request-view.js';
import { ReplayCassettes } from '../../src/replay/cassettes.js';
import type { Version } from '../../src/storage/backend.js';
import { FsStorage } from '../../src/storage/fs.js';
import { tempDir } from '../support/paths.js';

const interaction = (id: number) => ({
  id,
  request: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: 0, host: 'api.openai.com', body: '', form: {}, headers: {}, url: `https://api.openai.com/v1/models/m${id}`, method: 'GET' },
  response: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: 2, body: '{}', headers: {}, status: '200 OK', code: 200, duration: '1ms' },
});

test('past 1,000 loaded cassettes the least recently used goes; one that goes after replaying no longer claims its recordings unused', async (t) => {
  const { dir, remove } = await tempDir();
  t.after(remove);
  const files = Array.from({ length: 1002 }, (_, i) => path.join(dir, `c${i}.yaml`));
  for (const file of files) await writeFile(file, cassetteText([serializeInteraction(interaction(0)), serializeInteraction(interaction(1))]));
  const viewer = new RequestViewer({ ignore: [], headers: [] });
  const cassettes = new ReplayCassettes(new FsStorage(), viewer, 'repeat', silentLogger(), 0);
  const hit = async (file: string) => {
    const table = await cassettes.table(file);
    const view = viewer.view('GET', '/v1/models/m0', {}, Buffer.alloc(0));
    assert.equal(table.take(viewer.key(view), () => view).kind, 'hit');
  };

  await hit(files[0]!); // replayed, then let go below
  await cassettes.table(files[1]!); // loaded, never replayed
  for (const file of files.slice(2, 1001)) {
    await cassettes.table(file);
    await cassettes.table(files[1]!); // kept in use: it must stay loaded
  }
  await cassettes.table(files[1001]!);
  const loaded = new Set(cassettes.loaded().map((l) => l.file));
  assert.equal(loaded.size, 1000);
  assert.ok(!loaded.has(files[0]!), 'the least recently used went');
  assert.ok(loaded.has(files[1]!), 'the one in use stayed');
  assert.equal(cassettes.countsComplete(files[0]!), false);
  await cassettes.table(files[0]!);
  assert.equal(cassettes.countsComplete(files[0]!), false, 'loaded again, its counts still miss what was replayed before');
  assert.equal(cassettes.countsComplete(files[1]!), true);
});

/** The filesystem storage, counting what replay asks of it. */
class CountingStorage extends FsStorage {
  reads = 0;
  checks = 0;
  /** Whether the cassette is current, as the storage is told to answer; undefined: as the file says. */
  answer: boolean | undefined;

  override async read(key: string) {
    this.reads++;
    return super.read(key);
  }

  override async isCurrent(key: string, version: Version) {
    this.checks++;
    return this.answer ?? super.isCurrent(key, version);
  }
}

test('replay revalidates through the storage: one read per version, a version check per revalidation', async (t) => {
  const { dir, remove } = await tempDir();
  t.after(remove);
  const file = path.join(dir, 'c.yaml');
  await writeFile(file, cassetteText([serializeInteraction(interaction(0))]));
  const storage = new CountingStorage();
  const cassettes = new ReplayCassettes(storage, new RequestViewer({ ignore: [], headers: [] }), 'repeat', silentLogger(), 0);
  const count = async () => (await cassettes.table(file)).usage().interactions;

  assert.equal(await count(), 1);
  assert.deepEqual([storage.reads, storage.checks], [1, 0]);
  assert.equal(await count(), 1);
  assert.equal(await count(), 1);
  assert.deepEqual([storage.reads, storage.checks], [1, 2], 'unchanged: checked, not read again');

  await writeFile(file, cassetteText([0, 1].map((id) => serializeInteraction(interaction(id)))));
  storage.answer = true;
  assert.equal(await count(), 1, 'the storage says it is current: replay believes it, and looks at no file itself');
  storage.answer = undefined;
  assert.equal(await count(), 2);
  assert.deepEqual([storage.reads, storage.checks], [2, 4], 'changed: read again');

  const missing = path.join(dir, 'missing.yaml');
  await assert.rejects(cassettes.table(missing), { code: 'cassette_not_found' });
  await assert.rejects(cassettes.table(missing), { code: 'cassette_not_found' });
  assert.deepEqual([storage.reads, storage.checks], [4, 4], 'a missing cassette has no version to check: it is looked for again');
});
