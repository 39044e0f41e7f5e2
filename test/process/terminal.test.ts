/** In a terminal (a pseudo-terminal made by util-linux `script`), each exchange is one readable line, and a miss's explanation shows once. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { FakeUpstream } from '../support/fake-upstream.js';
import { tempDir } from '../support/paths.js';
import { BIN } from '../support/spawn.js';
import { eventually } from '../support/wait.js';

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

test('a terminal shows one line per exchange, and a miss with its explanation once', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const temp = await tempDir();
  t.after(temp.remove);
  const command = [process.execPath, BIN, '--port', '0', '--upstream', upstream.url, '--cassette-dir', temp.dir].map((a) => `'${a}'`).join(' ');
  const child = spawn('script', ['-qefc', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = once(child, 'exit');
  t.after(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  let screen = '';
  child.stdout.on('data', (chunk: Buffer) => (screen += chunk.toString('utf8').replace(ANSI, '')));
  const url = await eventually(() => /listening on (http:\/\/\S+),/.exec(screen)![1]!, 10_000);

  const embed = (input: string) => fetch(`${url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', input }) });
  assert.equal((await embed('recorded')).status, 200);
  // Saves are asynchronous: replay once the recording is on disk.
  await eventually(async () => {
    const { cassettes } = (await (await fetch(`${url}/_proxy/cassettes`)).json()) as { cassettes: { recorded_since_start: number }[] };
    assert.equal(cassettes[0]?.recorded_since_start, 1);
  });
  assert.equal((await fetch(`${url}/_proxy/mode`, { method: 'PUT', body: '{"mode":"replay"}' })).status, 200);
  assert.equal((await embed('recorded')).status, 200);
  assert.equal((await embed('never recorded')).status, 404);

  const lines = await eventually(() => {
    const found = screen.split(/\r?\n/).filter((line) => line.includes('POST /v1/embeddings'));
    assert.equal(found.length, 3, screen);
    return found;
  }, 5000);
  assert.match(lines[0]!, /INFO.*POST \/v1\/embeddings recorded 200 [\d.]+ ms \S+default\.yaml$/);
  assert.match(lines[1]!, /INFO.*POST \/v1\/embeddings replayed 200 /);
  assert.match(lines[2]!, /WARN.*POST \/v1\/embeddings miss 404 .* cassette_miss: cassette-proxy replay: no recording in .* body\.input: recorded "recorded", got "never recorded"/);
  assert.equal(screen.split('no recording in').length - 1, 1, 'the explanation shows once');
});
