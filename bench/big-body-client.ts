/**
 * One large JSON request body, in its own process: a chat completion request as the SDK sends it
 * (sdk.ts), whose last user message holds `mib` MiB of pasted text, streamed with its length
 * declared and never held whole here. Prints one JSON line: the status and the time to the whole
 * answer (ms). Usage: big-body-client <json options: url, mib>
 */
import http from 'node:http';
import { sdkChatBody, sdkHeaders } from './sdk.js';

const { url, mib } = JSON.parse(process.argv[2]!) as { url: string; mib: number };
const MARK = '@@TEXT@@';
const [head, tail] = JSON.stringify(sdkChatBody(1, { lastMessage: () => MARK })).split(MARK).map((s) => Buffer.from(s)) as [Buffer, Buffer];
// 1 MiB of prose, JSON-escaped, whole lines padded with spaces (ASCII: bytes are characters).
const line = 'The quarterly report lists every order, its carrier, and the days it spent in transit.\\n';
const lines = line.repeat(Math.floor((1024 * 1024) / line.length));
const piece = Buffer.from(lines.padEnd(1024 * 1024, ' '));

const started = performance.now();
const status = await new Promise<number>((resolve, reject) => {
  const req = http.request(url, { method: 'POST', headers: { ...sdkHeaders(), 'content-length': head.length + mib * piece.length + tail.length } }, (res) => {
    res.resume();
    res.on('end', () => resolve(res.statusCode!));
    res.on('error', reject);
  });
  req.on('error', reject);
  let written = 0;
  const pump = (): void => {
    while (written < mib) {
      written++;
      if (!req.write(piece)) return void req.once('drain', pump);
    }
    req.end(tail);
  };
  req.write(head);
  pump();
});
console.log(JSON.stringify({ status, ms: performance.now() - started }));
