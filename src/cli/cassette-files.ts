/** The cassette files a tool's arguments name: files as given, folders searched for them. */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { ProxyError, describeCause } from '../errors.js';

/** Folders never searched: dependencies and git's own files hold no cassettes of yours. */
const SKIPPED = new Set(['node_modules', '.git']);

/**
 * Each argument that is a file, as given; for a folder, its `.yaml` and `.yml` files at any
 * depth, sorted (symbolic links to folders are not followed). Throws an Error naming an argument
 * that does not exist.
 */
export async function cassetteFiles(args: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const arg of args) {
    const info = await stat(arg).catch((err: unknown) => {
      throw new Error(`${arg}: ${describeCause(err)}`, { cause: err });
    });
    files.push(...(info.isDirectory() ? (await search(arg)).sort() : [arg]));
  }
  return files;
}

async function search(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIPPED.has(entry.name)) found.push(...(await search(file)));
    } else if (/\.ya?ml$/.test(entry.name) && (entry.isFile() || (entry.isSymbolicLink() && (await stat(file).then((s) => s.isFile(), () => false))))) {
      found.push(file);
    }
  }
  return found;
}

/** What went wrong with a file, naming it: a ProxyError's message already does. */
export function problemWith(shown: string, err: unknown): string {
  return err instanceof ProxyError ? err.message : `${shown}: ${describeCause(err)}`;
}
