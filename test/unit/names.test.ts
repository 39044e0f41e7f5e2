import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { cassettePath } from '../../src/cassette/names.js';

test('names map to <dir>/<name>.yaml, sub-folders allowed', () => {
  assert.equal(cassettePath('/c', 'default'), path.resolve('/c/default.yaml'));
  assert.equal(cassettePath('/c', 'suite/case-1'), path.resolve('/c/suite/case-1.yaml'));
});

test('names that could leave the folder are refused', () => {
  for (const name of ['', '..', '../x', 'a/../../x', '/etc/passwd', 'a\\b', 'a\0b', 'C:/x', 'a//b', './x', 'x.yaml']) {
    assert.throws(() => cassettePath('/c', name), (err: any) => err.code === 'invalid_cassette_name', JSON.stringify(name));
  }
});
