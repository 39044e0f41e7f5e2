/** src/ reads like the architecture: every import points to the same layer or one below it. */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../support/paths.js';

const SRC = path.join(REPO_ROOT, 'src');

const STORAGE_LAYER = 1.5;

/** Lower numbers sit lower: kernel, format, policy, paths, host, entry. */
function layer(file: string): number {
  const [top] = path.relative(SRC, file).split(path.sep);
  if (top !== undefined && !top.endsWith('.ts')) {
    // Storage sits above the format (cassette) and below everything that records, replays or rewrites cassettes.
    if (top === 'storage') return STORAGE_LAYER;
    const layers: Record<string, number> = { cassette: 1, redact: 2, match: 2, record: 2, forward: 3, replay: 3, admin: 3, server: 4, cli: 5, api: 5 };
    const found = layers[top];
    assert.notEqual(found, undefined, `src/${top}/ has no layer: add it to this test`);
    return found!;
  }
  return 0;
}

test('imports under src/ never point up a layer', () => {
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(SRC, f));
  assert.ok(files.length > 20);
  const upward: string[] = [];
  for (const file of files) {
    // Static imports, re-exports and dynamic imports of our own modules.
    const text = readFileSync(file, 'utf8');
    const specs = [...text.matchAll(/^(?:import[^'"]*|export[^'"]*\bfrom\s*)['"](\.[^'"]+)['"]/gm), ...text.matchAll(/\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g)].map((m) => m[1]!);
    for (const spec of specs) {
      const target = path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts'));
      if (layer(target) > layer(file)) upward.push(`${path.relative(SRC, file)} → ${path.relative(SRC, target)}`);
    }
  }
  assert.deepEqual(upward, []);
});

test('the format (src/cassette/) imports nothing of storage (src/storage/)', () => {
  const dir = path.join(SRC, 'cassette');
  const offending: string[] = [];
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'))) {
    const file = path.join(dir, name);
    const text = readFileSync(file, 'utf8');
    for (const [, spec] of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.[^'"]+)['"]/g)) {
      const target = path.resolve(path.dirname(file), spec!);
      if (path.relative(SRC, target).split(path.sep)[0] === 'storage') offending.push(`cassette/${name} → ${path.relative(SRC, target)}`);
    }
  }
  assert.deepEqual(offending, []);
});
