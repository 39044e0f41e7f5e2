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
    const layers: Record<string, number> = { cassette: 1, redact: 2, match: 2, record: 2, faults: 2, forward: 3, replay: 3, admin: 3, server: 4, cli: 5, api: 5 };
    // HTTP plumbing sits on the kernel; on the format sit the provider profiles, then the exchange and its hook points.
    Object.assign(layers, { http: 0.5, providers: 1.6, exchange: 1.8 });
    const found = layers[top];
    assert.notEqual(found, undefined, `src/${top}/ has no layer: add it to this test`);
    return found!;
  }
  return 0;
}

/** Every .ts file under src/. */
function sourceFiles(): string[] {
  return readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(SRC, f));
}

/** The files of our own that `file` imports: static imports, re-exports and dynamic imports. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/^(?:import[^'"]*|export[^'"]*\bfrom\s*)['"](\.[^'"]+)['"]/gm), ...text.matchAll(/\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g)].map((m) => m[1]!);
  return specs.map((spec) => path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')));
}

test('imports under src/ never point up a layer', () => {
  const files = sourceFiles();
  assert.ok(files.length > 20);
  const upward: string[] = [];
  for (const file of files) {
    for (const target of importsOf(file)) {
      if (layer(target) > layer(file)) upward.push(`${path.relative(SRC, file)} → ${path.relative(SRC, target)}`);
    }
  }
  assert.deepEqual(upward, []);
});

test('the kernel (src/*.ts) imports nothing of any provider', () => {
  const kernel = sourceFiles().filter((file) => path.dirname(file) === SRC);
  assert.ok(kernel.length > 5);
  const found = kernel.flatMap((file) => importsOf(file).filter((target) => target.startsWith(path.join(SRC, 'providers') + path.sep)).map((target) => `${path.relative(SRC, file)} → ${path.relative(SRC, target)}`));
  assert.deepEqual(found, []);
});

test('only the providers and the composition root (server/, api/, cli/) name the OpenAI profile; the rest reads a profile through its interface', () => {
  const openai = path.join(SRC, 'providers', 'openai.ts');
  const allowed = ['providers', 'server', 'api', 'cli'];
  const users = sourceFiles().filter((file) => importsOf(file).includes(openai));
  assert.ok(users.length > 0, 'someone registers the OpenAI profile');
  const found = users.map((file) => path.relative(SRC, file)).filter((file) => !allowed.includes(file.split(path.sep)[0]!));
  assert.deepEqual(found, []);
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
