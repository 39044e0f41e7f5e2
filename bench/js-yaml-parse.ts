/** js-yaml's parse of one cassette file in a fresh process, as a proxy loads it. Prints one JSON line: ms. Usage: js-yaml-parse <file> */
import { jsYamlParse } from './fixtures.js';

const started = performance.now();
await jsYamlParse(process.argv[2]!);
console.log(JSON.stringify({ ms: performance.now() - started }));
