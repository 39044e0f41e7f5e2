/** Baseline: bare http-proxy with a keep-alive agent and no recording. Usage: bare-http-proxy <upstream> */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadHttpProxy } from '../src/forward/http-proxy.js';

const agent = new http.Agent({ keepAlive: true });
const proxy = loadHttpProxy().createProxyServer({ target: process.argv[2], changeOrigin: true, agent });
proxy.on('error', (_err, _req, res) => (res as http.ServerResponse).destroy());
const server = http.createServer({ noDelay: true }, (req, res) => proxy.web(req, res));
server.listen(0, '127.0.0.1', () => console.log(`READY http://127.0.0.1:${(server.address() as AddressInfo).port}`));
process.on('SIGINT', () => process.exit(0));
