/**
 * Cost of saving one interaction into a cassette that already holds 100, 1,000 and 10,000: each
 * add, made when the store is idle, is awaited until it is durable (appended in place and fsynced; the first add rewrites the file whole).
 * Prints one JSON line of medians (ms).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { silentLogger } from '../src/log.js';
import { FsStorage } from '../src/storage/fs.js';
import { CassetteFile } from '../src/storage/store.js';
import { cassetteOf, chatInteraction, median } from './fixtures.js';

const out: Record<string, number> = {};
for (const size of [100, 1000, 10000]) {
  const file = await cassetteOf(size);
  const cassette = new CassetteFile(new FsStorage(), file, silentLogger());
  await cassette.add(chatInteraction(size)); // loads the existing file once
  const times: number[] = [];
  for (let i = 0; i < 30; i++) {
    await cassette.flush(); // the store is idle: what is timed is one save, not the pause between saves under load
    const started = performance.now();
    await cassette.add(chatInteraction(size + 1 + i));
    times.push(performance.now() - started);
  }
  out[size] = median(times);
  await rm(path.dirname(file), { recursive: true, force: true });
}
console.log(JSON.stringify(out));
