import { FsStorage } from '../../src/storage/fs.js';
import { readCassette, type ParsedCassette } from '../../src/storage/read.js';

/** Cassette `file` as the proxy reads it, through the filesystem storage; rejects with ENOENT when there is none. */
export async function readCassetteFile(file: string): Promise<ParsedCassette> {
  const cassette = await readCassette(new FsStorage(), file);
  if (!cassette) throw Object.assign(new Error(`no cassette at ${file}`), { code: 'ENOENT' });
  return cassette;
}
