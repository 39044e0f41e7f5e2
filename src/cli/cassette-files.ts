/** The cassettes a tool's arguments name, read and written through the storage interface. */
import path from 'node:path';
import { cassetteTextOf, sourced, type SourcedCassette, type SourcedInteraction } from '../cassette/rewrite.js';
import { ProxyError, describeCause } from '../errors.js';
import { MAX_CASSETTE_BYTES, type CassetteStorage, type Version } from '../storage/backend.js';
import { FsStorage } from '../storage/fs.js';
import { readCassette, type ParsedCassette } from '../storage/read.js';

export const storage: CassetteStorage = new FsStorage();

/**
 * Each argument that is a file, as given; for a folder, its `.yaml` and `.yml` files at any
 * depth outside node_modules and .git, sorted. Throws an Error naming an argument that does not exist.
 */
export function cassetteFiles(args: readonly string[]): Promise<string[]> {
  return storage.list(args);
}

/** Reads and parses cassette `file`; every failure is an error naming it. */
export async function readToolCassette(file: string): Promise<ParsedCassette> {
  const cassette = await readCassette(storage, file);
  if (!cassette) throw new ProxyError('cassette_not_found', `cassette ${storage.show(file)} does not exist`);
  return cassette;
}

export interface LoadedCassette extends SourcedCassette {
  version: Version;
  /** A save is under way (or was cut short): a proxy may be recording into it. */
  pending: boolean;
}

/** Reads a cassette with the text of each interaction (see rewrite.ts). */
export async function loadCassette(file: string): Promise<LoadedCassette> {
  const { bytes, interactions, version, pending } = await readToolCassette(file);
  return { ...sourced(bytes.toString('utf8'), interactions), version, pending };
}

/**
 * Replaces `file` with a cassette of `items` atomically, if it is still at `expected` (null: if
 * there is none). One the proxy would refuse to load (over MAX_CASSETTE_BYTES) is not written.
 */
export async function writeCassette(file: string, items: readonly SourcedInteraction[], expected: Version | null, header?: string): Promise<void> {
  const bytes = Buffer.from(cassetteTextOf(items, header));
  if (bytes.length > MAX_CASSETTE_BYTES) {
    throw new ProxyError(
      'cassette_invalid',
      `${path.basename(file)} would be ${(bytes.length / 2 ** 20).toFixed(0)} MiB, more than the ${MAX_CASSETTE_BYTES / 2 ** 20} MiB the proxy loads; nothing was written. Combine fewer cassettes into one.`,
    );
  }
  await storage.write(file, [bytes], expected);
}

/** What went wrong with a file, naming it: a ProxyError's message already does. */
export function problemWith(shown: string, err: unknown): string {
  return err instanceof ProxyError ? err.message : `${shown}: ${describeCause(err)}`;
}
