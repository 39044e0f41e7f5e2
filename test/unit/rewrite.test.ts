/** Rewriting a cassette keeps each interaction's own text where it safely can, and is never wrong when it cannot. */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { dump } from 'js-yaml';
import { serializeInteraction } from '../../src/cassette/codec.js';
import { cassetteTextOf } from '../../src/cassette/rewrite.js';
import type { NewInteraction } from '../../src/cassette/types.js';
import { loadCassette } from '../../src/cli/cassette-files.js';
import { silentLogger } from '../../src/log.js';
import { FsStorage } from '../../src/storage/fs.js';
import { CassetteFile } from '../../src/storage/store.js';
import { fixture, tempDir } from '../support/paths.js';

function interaction(n: number): NewInteraction {
  return {
    request: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: 2, host: 'h', body: `{"n":${n}}`, headers: {}, url: `https://h/v1/x${n}`, method: 'POST' },
    response: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: -1, body: `data: ${n}\n\n    - id: 9\n\n`, headers: { 'Content-Type': ['text/event-stream'] }, status: '200 OK', code: 200, duration: '1ms' },
  };
}

test("a cassette this proxy appended to (commit lines between saves) keeps each kept interaction's text", async (t) => {
  const temp = await tempDir();
  t.after(temp.remove);
  const file = path.join(temp.dir, 'c.yaml');
  const store = new CassetteFile(new FsStorage(), file, silentLogger());
  for (const n of [0, 1, 2]) await store.add(interaction(n)); // the first save writes the file, the others append in place
  const text = await readFile(file, 'utf8');
  assert.match(text, /^#: \|$/m, 'appends left their commit lines');
  const { interactions, header } = await loadCassette(file);
  assert.ok(interactions.every((i) => i.text !== undefined));
  const kept = cassetteTextOf([interactions[0]!, interactions[2]!], header);
  assert.equal(kept, header! + interactions[0]!.text! + interactions[2]!.text!.replace('    - id: 2', '    - id: 1'));
});

test('a layout other than go-vcr\'s (2-space items) is written anew, with the same values', async (t) => {
  const temp = await tempDir();
  t.after(temp.remove);
  const file = path.join(temp.dir, 'c.yaml');
  await writeFile(file, dump({ version: 2, interactions: [0, 1].map((id) => ({ id, ...interaction(id) })) }, { indent: 2 }));
  const { interactions } = await loadCassette(file);
  assert.ok(interactions.every((i) => i.text === undefined), 'nothing is cut from a layout it does not know');
  assert.equal(cassetteTextOf([interactions[1]!]), cassetteTextOf([{ interaction: { ...interaction(1), id: 0 } }]));
});

test('a text that does not parse back to the intended interactions is never written: all are written anew', async () => {
  const { interactions } = await loadCassette(fixture('seed.yaml'));
  // As if the file had changed between reading its values and its text.
  const swapped = [{ interaction: interactions[0]!.interaction, text: interactions[1]!.text }];
  assert.equal(cassetteTextOf(swapped), `---\nversion: 2\ninteractions:\n${serializeInteraction({ ...interactions[0]!.interaction, id: 0 })}`);
});
