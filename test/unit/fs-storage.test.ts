/** The storage interface on the filesystem backend: writes and appends happen only at the version they expect. */
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { cassetteText, serializeInteraction } from '../../src/cassette/codec.js';
import type { Interaction } from '../../src/cassette/types.js';
import { FsStorage } from '../../src/storage/fs.js';
import { tempDir } from '../support/paths.js';

const interaction = (id: number, body = `answer ${id}`): Interaction => ({
  id,
  request: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: 0, host: 'h', url: `https://h/v1/m${id}`, method: 'GET' },
  response: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: -1, body, headers: {}, status: '200 OK', code: 200, duration: '1ms' },
});

const cassette = (...ids: number[]): Buffer => Buffer.from(cassetteText(ids.map((id) => serializeInteraction(interaction(id)))));

const refused = (err: unknown): boolean => (err as { code?: string }).code === 'internal_error';

test('a conditional write with a stale version is refused and leaves the cassette as it was; with the current one it replaces it', async (t) => {
  const { dir, remove } = await tempDir();
  t.after(remove);
  const file = path.join(dir, 'c.yaml');
  const storage = new FsStorage();
  const first = await storage.write(file, [cassette(0)], null);
  assert.equal((await storage.read(file))!.version, first, 'a read gives the version the write returned');
  await assert.rejects(storage.write(file, [cassette(9)], null), refused, 'a write expecting no cassette, when there is one');

  await writeFile(file, cassette(0, 1)); // changed by someone else
  await assert.rejects(storage.write(file, [cassette(9)], first), refused);
  assert.deepEqual(await readFile(file), cassette(0, 1), 'the refused write changed nothing');
  assert.deepEqual(await readdir(dir), ['c.yaml'], 'and left no temp file');

  const current = await storage.version(file);
  assert.notEqual(current, first);
  assert.ok(await storage.isCurrent(file, current!));
  await storage.write(file, [cassette(0, 1, 2)], current!);
  assert.deepEqual(await readFile(file), cassette(0, 1, 2));
  assert.equal(await storage.isCurrent(file, current!), false);
});

test('append extends only the version this storage wrote last, only in ASCII, and otherwise writes nothing', async (t) => {
  const { dir, remove } = await tempDir();
  t.after(remove);
  const file = path.join(dir, 'c.yaml');
  const storage = new FsStorage();
  const written = await storage.write(file, [cassette(0)], null);
  const item = (id: number, body?: string) => [Buffer.from(serializeInteraction(interaction(id, body)))];

  await assert.rejects(new FsStorage().append(file, item(1), written), refused, 'another process (storage) never appends to what it did not write');
  const appended = await storage.append(file, item(1), written);
  const read = (await storage.read(file))!;
  assert.deepEqual([read.version, read.pending], [appended, false]);
  assert.match(read.bytes.toString(), /^#: \|$/m, 'appended behind a committed marker line');

  await assert.rejects(storage.append(file, item(2, 'Grüße'), appended), refused, 'a byte past ASCII is refused before it is written');
  assert.deepEqual(await readFile(file), read.bytes, 'nothing of it reached the file');
});
