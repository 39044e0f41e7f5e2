/** Paths that tests share; compiled tests run from dist/test, fixtures stay in test/fixtures. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export function fixture(name: string): string {
  return path.join(REPO_ROOT, 'test', 'fixtures', name);
}

/** A fresh temporary folder, removed when `t.after` runs the returned cleanup. */
export async function tempDir(prefix = 'cassette-proxy-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
