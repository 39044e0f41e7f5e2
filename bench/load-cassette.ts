/**
 * Loading a cassette of 10,000 interactions for replay (read, parse, check, index) against js-yaml
 * parsing the same file. Prints one JSON line of medians (ms).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { silentLogger } from '../src/log.js';
import { RequestViewer } from '../src/match/request-view.js';
import { ReplayCassettes } from '../src/replay/cassettes.js';
import { FsStorage } from '../src/storage/fs.js';
import { cassetteOf, jsYamlParse, median } from './fixtures.js';

const file = await cassetteOf(10_000);
const ours: number[] = [];
const plain: number[] = [];
const timed = async (run: () => Promise<unknown>, into: number[]): Promise<void> => {
  const started = performance.now();
  await run();
  into.push(performance.now() - started);
};
const plainLoad = () => jsYamlParse(file);
const ourLoad = () => new ReplayCassettes(new FsStorage(), new RequestViewer({ ignore: [], headers: [] }), 'repeat', silentLogger()).table(file);
// Alternate which goes first, so that neither always pays for the other's garbage.
for (let round = 0; round < 6; round++) {
  if (round % 2) {
    await timed(plainLoad, plain);
    await timed(ourLoad, ours);
  } else {
    await timed(ourLoad, ours);
    await timed(plainLoad, plain);
  }
}
await rm(path.dirname(file), { recursive: true, force: true });
console.log(JSON.stringify({ ours: median(ours), jsYaml: median(plain) }));
