import { parseCassetteBytes } from '../cassette/codec.js';
import type { Interaction } from '../cassette/types.js';
import type { CassetteStorage, StoredCassette } from './backend.js';

/** A cassette as stored (`version` is the storage's), and its interactions. */
export type ParsedCassette = StoredCassette & { interactions: Interaction[] };

/**
 * Reads and parses cassette `key`; undefined when there is none. Every failure is a ProxyError
 * naming the cassette, except an error of the read itself (EMFILE, EIO...).
 */
export async function readCassette(storage: CassetteStorage, key: string): Promise<ParsedCassette | undefined> {
  const stored = await storage.read(key);
  return stored && { ...stored, interactions: parseCassetteBytes(stored.bytes, storage.show(key)).interactions };
}
