/**
 * Baseline: a bare node:http server answering one fixed JSON body. Usage: bare-http [sdk]
 * (sdk: the API's completion and headers, sdk.ts; loaded only then, so that the start-up baseline stays bare).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const sdk = process.argv[2] === 'sdk' ? await import('./sdk.js') : undefined;
const body = Buffer.from(sdk?.SDK_COMPLETION ?? JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! How can I help you today?' }, finish_reason: 'stop' }] }));
const headers = { ...sdk?.SDK_RESPONSE_HEADERS, 'content-type': 'application/json', 'content-length': body.length };
const server = http.createServer({ noDelay: true }, (req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, headers);
    res.end(body);
  });
});
server.listen(0, '127.0.0.1', () => console.log(`READY http://127.0.0.1:${(server.address() as AddressInfo).port}`));
