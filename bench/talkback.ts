/** Peer: talkback 4 as a server. Usage: talkback <upstream> <tapes dir> <record|replay> */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const talkback = require('talkback');
const [upstream, path, mode] = process.argv.slice(2);
const server = talkback({
  host: upstream,
  path,
  port: 0,
  record: mode === 'record' ? talkback.Options.RecordMode.NEW : talkback.Options.RecordMode.DISABLED,
  silent: true,
  summary: false,
});
server.start(() => console.log(`READY http://127.0.0.1:${server.server.address().port}`));
