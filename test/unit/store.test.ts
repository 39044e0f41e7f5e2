import assert from 'node:assert/strict';
import { isAscii } from 'node:buffer';
import { readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { serializeInteraction } from '../../src/cassette/codec.js';
import type { NewInteraction } from '../../src/cassette/types.js';
import { silentLogger } from '../../src/log.js';
import { RequestViewer } from '../../src/match/request-view.js';
import { ReplayCassettes } from '../../src/replay/cassettes.js';
import { FsStorage } from '../../src/storage/fs.js';
import { CassetteFile } from '../../src/storage/store.js';
import { readCassetteFile } from '../support/cassettes.js';
import { tempDir } from '../support/paths.js';
import { parseCassetteYaml } from '../support/proxy.js';

const PAGE = 4096;
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

function interaction(body: string | Uint8Array, requestBody = '{"model":"gpt-4o-mini"}'): NewInteraction {
  return {
    request: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: requestBody.length, host: 'api.openai.com', body: requestBody, form: {}, headers: { 'Content-Type': ['application/json'] }, url: 'https://api.openai.com/v1/chat/completions', method: 'POST' },
    response: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: -1, body, headers: { 'Content-Type': ['text/event-stream'] }, status: '200 OK', code: 200, duration: '12ms' },
  };
}

/** Bodies that stress the literal-block trick: SSE lines, blank lines, multi-byte text, bytes. */
const sse = 'data: {"choices":[{"delta":{"content":"Grüße, 世界 🙂"}}]}\n\n\n   indented line\n\ndata: [DONE]\n\n';
const binary = Uint8Array.from([0, 255, 128, 10, 32, 35]);

/** What another reader sees: plain js-yaml on the file read as text. */
function jsYamlCount(bytes: Buffer): number {
  const doc = parseCassetteYaml(bytes.toString('utf8')) as { interactions: unknown[] | null };
  return doc.interactions?.length ?? 0;
}

async function savesOf(...batches: NewInteraction[][]): Promise<{ file: string; files: Buffer[]; remove: () => Promise<void> }> {
  const { dir, remove } = await tempDir();
  const file = path.join(dir, 'c.yaml');
  const cassette = new CassetteFile(new FsStorage(), file, silentLogger());
  const files: Buffer[] = [];
  for (const batch of batches) {
    await Promise.all(batch.map((i) => cassette.add(i)));
    files.push(await readFile(file));
  }
  return { file, files, remove };
}

/** The bytes a save appended, as they were before its commit byte was written. */
function pendingPart(before: Buffer, after: Buffer): Buffer {
  assert.deepEqual(after.subarray(0, before.length), before, 'the save appended to the file instead of rewriting it');
  const pending = Buffer.from(after.subarray(before.length));
  const commit = pending.indexOf('#: |\n');
  assert.ok(commit >= 0 && /^\n*$/.test(pending.subarray(0, commit).toString()), 'the appended part starts with the committed marker line');
  pending[commit] = '_'.charCodeAt(0);
  return pending;
}

test('a save cut short at any byte leaves the cassette as it was before that save, for the loader and for js-yaml', async (t) => {
  const { file, files, remove } = await savesOf([interaction('first')], [interaction(sse)], [interaction(binary, '{"input":"x"}')]);
  t.after(remove);
  assert.equal((await readCassetteFile(file)).interactions.length, 3);
  assert.equal(jsYamlCount(files[2]!), 3);
  const all = (await readCassetteFile(file)).interactions;

  for (const saved of [1, 2]) {
    const before = files[saved - 1]!;
    const pending = pendingPart(before, files[saved]!);
    const marker = pending.indexOf('_: |\n');
    for (let cut = 0; cut <= pending.length; cut++) {
      // A write is cut short only at a page boundary, and the marker line never crosses one (next test).
      if (cut > marker && cut < marker + '_: |\n'.length) continue;
      const torn = Buffer.concat([before, pending.subarray(0, cut)]);
      await writeFile(file, torn);
      const where = `save ${saved}, cut after ${cut} of ${pending.length} pending bytes`;
      assert.deepEqual((await readCassetteFile(file)).interactions, all.slice(0, saved), where);
      assert.equal(jsYamlCount(torn), saved, `js-yaml, ${where}`);
      // Go's YAML reader refuses a whole file that holds half a UTF-8 character.
      assert.doesNotThrow(() => STRICT_UTF8.decode(torn), `valid UTF-8, ${where}`);
    }
  }
});

test('the one-byte commit never crosses a page boundary, and a save cut at that boundary leaves a loadable file', async (t) => {
  // Size the second interaction so that the file ends 2 bytes before a page boundary: the next
  // marker line (5 bytes) would cross it.
  const { files: [first], remove: removeProbe } = await savesOf([interaction('first')]);
  await removeProbe();
  const blockOf = (n: number) => Buffer.byteLength(serializeInteraction({ ...interaction('x'.repeat(n)), id: 1 }));
  const fill = (((PAGE - 2 - first!.length - '#: |\n'.length - blockOf(0)) % PAGE) + PAGE) % PAGE;
  const { file, files, remove } = await savesOf([interaction('first')], [interaction('x'.repeat(fill))], [interaction(sse)]);
  t.after(remove);
  const [, second, third] = files as [Buffer, Buffer, Buffer];
  assert.equal(second.length % PAGE, PAGE - 2, 'the test sized the second save to end just before a page boundary');
  assert.equal(third.subarray(second.length + 2, second.length + 2 + 5).toString(), '#: |\n', 'the marker starts the next page');
  assert.equal((await readCassetteFile(file)).interactions.length, 3);
  assert.equal(jsYamlCount(third), 3);

  const cutAtPage = third.subarray(0, second.length + 2);
  await writeFile(file, cutAtPage);
  assert.equal((await readCassetteFile(file)).interactions.length, 2);
  assert.equal(jsYamlCount(cutAtPage), 2);
});

test('replay reads a cassette again once a save it read mid-way commits, even when size and mtime did not change', async (t) => {
  const { file, files, remove } = await savesOf([interaction('first')], [interaction('second')]);
  t.after(remove);
  const [before, after] = files as [Buffer, Buffer];
  const pending = pendingPart(before, after);
  await writeFile(file, Buffer.concat([before, pending]));
  // A whole second: utimes keeps only milliseconds, and the file system's finer mtime would change otherwise.
  const mtime = new Date(Math.floor(Date.now() / 1000) * 1000);
  await utimes(file, mtime, mtime);
  const { mtimeMs, size } = await stat(file);
  const cassettes = new ReplayCassettes(new FsStorage(), new RequestViewer({ ignore: [], headers: [] }), 'repeat', silentLogger(), 0);
  assert.equal((await cassettes.table(file)).usage().interactions, 1, 'read mid-save: the pending interaction is not there yet');

  // The commit: one byte, same inode and size; the mtime put back, as a coarse clock would leave it.
  await writeFile(file, after);
  await utimes(file, mtime, mtime);
  const now = await stat(file);
  assert.deepEqual([now.mtimeMs, now.size], [mtimeMs, size], 'precondition: size and mtime as they were');
  assert.equal((await cassettes.table(file)).usage().interactions, 2);
});

test('an interaction is turned into YAML when added: readable in a whole rewrite, ASCII when appended in place', async (t) => {
  const { dir, remove } = await tempDir();
  t.after(remove);
  const file = path.join(dir, 'c.yaml');
  const cassette = new CassetteFile(new FsStorage(), file, silentLogger());
  const added = interaction(sse);
  const saved = cassette.add(added);
  // Changed before the save ran: the cassette holds what was added, not what the object became.
  added.response.body = 'changed after add';
  await saved;
  const first = await readFile(file, 'utf8');
  assert.ok(!first.includes('changed after add'), 'the save wrote what was added');
  assert.ok(first.includes('Grüße, 世界 🙂'), 'the first save rewrites the file whole, readably');

  await cassette.add(interaction(`again ${sse}`));
  const appended = (await readFile(file, 'utf8')).slice(first.length);
  assert.ok(appended.includes('Gr\\u00fc\\u00dfe') && !appended.includes('Grüße'), 'a save in place writes ASCII');

  // Another process (a restart) reads the file and rewrites it whole: readable again.
  await new CassetteFile(new FsStorage(), file, silentLogger()).add(interaction('next'));
  const rewritten = await readFile(file, 'utf8');
  assert.ok(rewritten.includes('again data: {"choices":[{"delta":{"content":"Grüße'), 'the appended interaction is readable again');
  assert.deepEqual((await readCassetteFile(file)).interactions.map((i) => i.response.body), [sse, `again ${sse}`, 'next']);
});

test('a failed save keeps its interactions, large bodies included, and the next save writes them with their ids', async (t) => {
  const { dir, remove } = await tempDir();
  t.after(remove);
  // The cassette's folder is a file at first: the save fails (ENOTDIR), as on a broken disk.
  const blocker = path.join(dir, 'sub');
  await writeFile(blocker, 'not a folder');
  const file = path.join(blocker, 'c.yaml');
  const cassette = new CassetteFile(new FsStorage(), file, silentLogger());
  // Over 1 MiB and past ASCII: its YAML is made when it is written, each time it is written.
  const large = `data: ${'Grüße '.repeat(200_000)}\n\n`.repeat(2);
  await assert.rejects(cassette.add(interaction(large)));
  await rm(blocker);
  assert.equal(await cassette.add(interaction('second')), 1);
  // Appended in place, so in ASCII: quoted with escapes, made when written.
  assert.equal(await cassette.add(interaction(large)), 2);
  const { interactions } = await readCassetteFile(file);
  assert.deepEqual(interactions.map((i) => [i.id, i.response.body]), [[0, large], [1, 'second'], [2, large]]);
  assert.ok(isAscii(await readFile(file).then((bytes) => bytes.subarray(bytes.lastIndexOf('#: |\n')))), 'the appended part is ASCII');
});

test('a save whose lease is lost while it writes counts as failed, never as saved: its interactions stay unsaved and are reported', async (t) => {
  const { dir, remove } = await tempDir();
  t.after(remove);
  let confirms = 0;
  // The lease holds when the save starts and is gone once it has written (another process took it over).
  const lease = { confirm: async () => (++confirms === 2 ? Promise.reject(new Error('lease lost')) : undefined) };
  const cassette = new CassetteFile(new FsStorage(), path.join(dir, 'c.yaml'), silentLogger(), undefined, lease);
  await assert.rejects(cassette.add(interaction('first')), /lease lost/);
  assert.equal(confirms, 2, 'checked before and after writing');
  const { unsaved, saveFailures, lastSaveError, recordedSinceStart } = cassette.stats();
  assert.deepEqual({ unsaved, saveFailures, recordedSinceStart }, { unsaved: 1, saveFailures: 1, recordedSinceStart: 0 });
  assert.match(lastSaveError!, /lease lost/);
  // Once the lease holds again, the next save writes it again: saved twice (here the lost save's
  // bytes stayed), never lost.
  assert.equal(await cassette.add(interaction('second')), 2);
  assert.equal(cassette.stats().unsaved, 0);
  assert.deepEqual((await readCassetteFile(path.join(dir, 'c.yaml'))).interactions.map((i) => i.response.body), ['first', 'first', 'second']);
});

test('an interaction added just as a save ends is saved at once, not left for whatever is added next', async (t) => {
  const { dir, remove } = await tempDir();
  t.after(remove);
  const cassette = new CassetteFile(new FsStorage(), path.join(dir, 'c.yaml'), silentLogger());
  // Two hops after the save resolved its interactions: the save has looked at the queue for the last time.
  await Promise.all([cassette.add(interaction('first')), cassette.add(interaction('second'))]);
  // Saved at once takes milliseconds; the bound is for a machine busy with a whole test run.
  const stuck = new Promise((resolve) => setTimeout(resolve, 30_000, 'stuck').unref());
  assert.equal(await Promise.race([cassette.add(interaction('third')), stuck]), 2);
  assert.equal(cassette.stats().unsaved, 0);
});
