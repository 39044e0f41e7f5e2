/** The README's one-minute example, read from the README itself and run as written (on a free port). */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../support/paths.js';
import { spawnProxy } from '../support/spawn.js';

test("the README's one-minute example replays the shipped cassette with no network, and a changed question gets the nearest in a 404", async (t) => {
  const readme = await readFile(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const block = /<!-- one-minute-example[^\n]*\n```sh\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'the README has the one-minute example block');
  const lines = block.replace(/\\\n\s*/g, '').split('\n');
  const start = lines.find((l) => l.startsWith('npm ci && npm start -- '))!;
  const args = start.slice('npm ci && npm start -- '.length).split(/\s+/);
  const curl = lines.find((l) => l.startsWith('curl '))!;
  const urlPath = /localhost:8080(\/\S+)/.exec(curl)![1]!;
  const body = /-d '([^']*)'/.exec(curl)![1]!;
  const cassette = path.join(REPO_ROOT, args[args.indexOf('--cassette-dir') + 1]!, `${args[args.indexOf('--cassette') + 1]}.yaml`);
  const before = await readFile(cassette, 'utf8');

  const proxy = await spawnProxy(t, [...args, '--port', '0']);
  const res = await fetch(`${proxy.url}${urlPath}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  assert.equal(res.status, 200);
  const answer = (await res.json()) as { choices: { message: { content: string } }[] };
  assert.match(answer.choices[0]!.message.content, /hello/i);
  // "Change the question and you get a 404 that says which recording was nearest and what differed."
  const changed = body.replace('Say hello in one word.', 'Say goodbye in one word.');
  assert.notEqual(changed, body);
  const miss = await fetch(`${proxy.url}${urlPath}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: changed });
  assert.equal(miss.status, 404);
  const { error } = (await miss.json()) as { error: { code: string; message: string } };
  assert.equal(error.code, 'cassette_miss');
  assert.match(error.message, /Nearest is interaction \d+ .*body\.messages\[0\]\.content: recorded "Say hello in one word\.", got "Say goodbye in one word\."/);
  assert.equal(await proxy.stop('SIGTERM'), 0);
  assert.equal(await readFile(cassette, 'utf8'), before, 'replay leaves the cassette as it was');
});
