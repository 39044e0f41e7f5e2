/**
 * A transient I/O failure is not a broken cassette: a proxy that has run out of file descriptors
 * (EMFILE, for real: `ulimit -n` and connections that hold every descriptor) answers a cassette it
 * could not read with a retryable 503, and serves it as soon as descriptors are free again, with
 * the file untouched.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { copyFile, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { dump } from 'js-yaml';
import { FakeUpstream, SEED_TURN_ONE_REQUEST } from '../support/fake-upstream.js';
import { fixture, tempDir } from '../support/paths.js';
import { spawnProxy } from '../support/spawn.js';

interface Answer {
  status: number;
  body: string;
}

/** One HTTP/1.1 exchange on a raw keep-alive socket (answers with content-length or chunked bodies). */
function exchange(socket: net.Socket, request: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0);
    const done = (result: Answer | Error): void => {
      socket.off('data', onData).off('close', onClose).off('error', onClose);
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const onClose = (): void => done(new Error('connection closed without an answer'));
    const onData = (chunk: Buffer): void => {
      data = Buffer.concat([data, chunk]);
      const end = data.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = data.subarray(0, end).toString();
      const rest = data.subarray(end + 4);
      const status = Number(head.split(' ')[1]);
      const length = /content-length: (\d+)/i.exec(head);
      if (length && rest.length >= Number(length[1])) return done({ status, body: rest.subarray(0, Number(length[1])).toString() });
      if (/transfer-encoding: chunked/i.test(head) && rest.includes('\r\n0\r\n\r\n')) return done({ status, body: rest.toString() });
    };
    socket.on('data', onData).once('close', onClose).once('error', onClose);
    socket.write(request);
  });
}

const get = (url: string, cassette?: string): string => `GET ${url} HTTP/1.1\r\nhost: 127.0.0.1\r\n${cassette ? `x-cassette: ${cassette}\r\n` : ''}\r\n`;
const chat = (): string => {
  const body = JSON.stringify({ ...SEED_TURN_ONE_REQUEST, stream: true });
  return `POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nx-cassette: seed\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
};
/** Headers of a request whose body never comes: its connection stays open, not idle, holding a descriptor. */
const HANGING = 'POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n';

async function connect(url: string): Promise<net.Socket | undefined> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  try {
    await once(socket, 'connect');
    // Accepted only if it answers: a proxy out of descriptors accepts and closes at once.
    assert.equal((await exchange(socket, get('/_proxy/health'))).status, 200);
    return socket;
  } catch {
    socket.destroy();
    return undefined;
  }
}

test('EMFILE while a cassette loads: 503 cassette_unavailable, not remembered; once descriptors are free the same file is served', { timeout: 60_000, skip: process.platform !== 'linux' && 'needs ulimit and /proc' }, async (t) => {
  const dead = await FakeUpstream.start();
  await dead.close();
  const temp = await tempDir();
  t.after(temp.remove);
  await copyFile(fixture('seed.yaml'), path.join(temp.dir, 'seed.yaml'));
  const models = path.join(temp.dir, 'models.yaml');
  const model = { id: 0, request: { url: 'https://api.openai.com/v1/models/m', method: 'GET' }, response: { code: 200, status: '200 OK', headers: { 'Content-Type': ['application/json'] }, body: '{"id":"m","object":"model","created":1,"owned_by":"x"}' } };
  await writeFile(models, `---\n${dump({ version: 2, interactions: [model] })}`);
  const before = await stat(models);

  const proxy = await spawnProxy(t, ['--mode', 'replay', '--port', '0', '--upstream', dead.url, '--cassette-dir', temp.dir, '--cassette', 'seed', '--log-level', 'error'], { fdLimit: 64 });
  const sockets: net.Socket[] = [];
  t.after(() => sockets.forEach((s) => s.destroy()));
  const [bystander, asker] = [await connect(proxy.url), await connect(proxy.url)];
  assert.ok(bystander && asker);
  sockets.push(bystander, asker);
  assert.equal((await exchange(bystander, chat())).status, 200, 'seed.yaml is loaded before descriptors run out');

  // Hold every descriptor the proxy has left.
  const held: net.Socket[] = [];
  for (let socket = await connect(proxy.url); socket; socket = await connect(proxy.url)) {
    socket.write(HANGING);
    held.push(socket);
    sockets.push(socket);
    assert.ok(held.length < 64, 'the descriptor limit was reached');
  }

  const failed = await exchange(asker, get('/v1/models/m', 'models'));
  assert.equal(failed.status, 503, failed.body);
  const { error } = JSON.parse(failed.body);
  assert.equal(error.code, 'cassette_unavailable');
  assert.match(error.message, /models\.yaml could not be read just now \(EMFILE/);
  // The bystander, on a cassette already loaded, is served meanwhile.
  const served = await exchange(bystander, chat());
  assert.equal(served.status, 200);
  assert.match(served.body, /"name":"add"/);

  for (const socket of held.splice(0, 4)) socket.destroy();
  // The proxy frees those descriptors as it sees the connections close; until then it may say 503 again, never 400.
  let answer = failed;
  for (let i = 0; i < 200 && answer.status === 503; i++) answer = await exchange(asker, get('/v1/models/m', 'models'));
  assert.equal(answer.status, 200, answer.body);
  assert.equal(JSON.parse(answer.body).id, 'm');
  const after = await stat(models);
  assert.deepEqual([after.mtimeMs, after.ino, after.size], [before.mtimeMs, before.ino, before.size], 'the file was never touched');
});
