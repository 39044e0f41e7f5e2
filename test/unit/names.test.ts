import assert from 'node:assert/strict';
import { mkdir, realpath, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { CassetteNames, cassettePath, nameFromHeader } from '../../src/storage/names.js';
import { tempDir } from '../support/paths.js';

test('names map to <dir>/<name>.yaml, sub-folders allowed', () => {
  assert.equal(cassettePath('/c', 'default'), path.resolve('/c/default.yaml'));
  assert.equal(cassettePath('/c', 'suite/case-1'), path.resolve('/c/suite/case-1.yaml'));
});

test('names that could leave the folder are refused', () => {
  for (const name of ['', '..', '../x', 'a/../../x', '/etc/passwd', 'a\\b', 'a\0b', 'C:/x', 'a//b', './x', 'x.yaml']) {
    assert.throws(() => cassettePath('/c', name), (err: any) => err.code === 'invalid_cassette_name', JSON.stringify(name));
  }
});

test('names a file system could not store are refused: a segment over 255 bytes, a file name without room for the files kept next to it, a lone surrogate', () => {
  assert.equal(cassettePath('/c', 'é'.repeat(109)), path.resolve(`/c/${'é'.repeat(109)}.yaml`), '223 bytes with .yaml: the longest file name');
  for (const name of ['é'.repeat(110), `${'語'.repeat(86)}/x`, 'a\ud800b', `x/${'\u{1F642}'.repeat(60)}`]) {
    assert.throws(() => cassettePath('/c', name), (err: any) => err.code === 'invalid_cassette_name', name.slice(0, 10));
  }
});

test('an x-cassette value is read as UTF-8 bytes; bytes that are not UTF-8 are refused', () => {
  const sent = (bytes: Buffer) => bytes.toString('latin1'); // what Node's parser hands over
  assert.equal(nameFromHeader(sent(Buffer.from('suite/café'))), 'suite/café');
  for (const bytes of [[0x63, 0x61, 0x66, 0xe9], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xff]]) {
    assert.throws(() => nameFromHeader(sent(Buffer.from(bytes))), (err: any) => err.code === 'invalid_cassette_name' && /not valid UTF-8/.test(err.message));
  }
});

test('a name resolves to its real path: symlinks inside the folder give one identity; one that leads outside, nowhere or in a loop is refused', async (t) => {
  const { dir, remove } = await tempDir();
  t.after(remove);
  const outside = await tempDir();
  t.after(outside.remove);
  const root = path.join(dir, 'cassettes');
  await mkdir(path.join(root, 'real'), { recursive: true });
  await writeFile(path.join(root, 'real', 'b.yaml'), '');
  await symlink(path.join(root, 'real'), path.join(root, 'alias'));
  await symlink('b.yaml', path.join(root, 'real', 'a.yaml'));
  await symlink(outside.dir, path.join(root, 'out'));
  await symlink(path.join(outside.dir, 'x.yaml'), path.join(root, 'file-out.yaml'));
  await symlink(path.join(root, 'gone'), path.join(root, 'dangling.yaml'));
  await symlink('loop-b', path.join(root, 'loop-a'));
  await symlink('loop-a', path.join(root, 'loop-b'));
  // The folder is reached through a symbolic link too, as a volume mount may be.
  await symlink(root, path.join(dir, 'mounted'));
  const names = new CassetteNames(path.join(dir, 'mounted'));
  const real = await realpath(root);

  assert.equal(await names.resolve('alias/b'), path.join(real, 'real', 'b.yaml'));
  assert.equal(await names.resolve('real/a'), path.join(real, 'real', 'b.yaml'));
  assert.equal(await names.resolve('alias/new/deeper'), path.join(real, 'real', 'new', 'deeper.yaml'), 'parts that do not exist yet');
  for (const name of ['out/x', 'out/new/deeper', 'file-out', 'dangling', 'loop-a/x']) {
    await assert.rejects(names.resolve(name), (err: any) => err.code === 'invalid_cassette_name', name);
  }
  // A cassette folder that does not exist yet (recording creates it).
  assert.equal(await new CassetteNames(path.join(dir, 'later', 'cassettes')).resolve('a'), path.join(await realpath(dir), 'later', 'cassettes', 'a.yaml'));
});
