/**
 * SIGTERM and SIGINT on the built bin: streams in flight finish and are saved; past the grace period
 * they are cut and not saved; the summary then names the interactions never replayed.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import OpenAI from 'openai';
import { cassetteText, serializeInteraction } from '../../src/cassette/codec.js';
import { readCassetteFile } from '../support/cassettes.js';
import { FakeUpstream, SEED_TOOL_CALL_STREAM, SEED_TURN_ONE_REQUEST } from '../support/fake-upstream.js';
import { fixture, tempDir } from '../support/paths.js';
import { readCassetteYaml } from '../support/proxy.js';
import { spawnProxy } from '../support/spawn.js';
import { eventually } from '../support/wait.js';

test('SIGTERM during a stream: the stream completes, the interaction is on disk, the process exits 0', async (t) => {
  const upstream = await FakeUpstream.start({ eventSpacingMs: 25 });
  t.after(() => upstream.close());
  const temp = await tempDir();
  t.after(temp.remove);
  const proxy = await spawnProxy(t, ['--port', '0', '--upstream', upstream.url, '--cassette-dir', temp.dir]);
  const client = new OpenAI({ apiKey: 'k', baseURL: `${proxy.url}/v1`, maxRetries: 0 });
  const stream = await client.chat.completions.create({ ...SEED_TURN_ONE_REQUEST, stream: true } as OpenAI.ChatCompletionCreateParamsStreaming);
  let chunks = 0;
  let exit: Promise<number | null> | undefined;
  for await (const _ of stream) {
    if (chunks++ === 0) exit = proxy.stop('SIGTERM');
  }
  assert.ok(chunks > 5, 'the whole stream arrived');
  assert.equal(await exit, 0);
  const cassette = await readCassetteYaml(path.join(temp.dir, 'default.yaml'));
  assert.equal(cassette.interactions.length, 1);
  assert.equal(cassette.interactions[0].response.body, SEED_TOOL_CALL_STREAM);
  assert.match(proxy.stderr(), /cassette summary/);
});

test('a stream still open when the grace period ends is cut, not saved, and the process still exits 0', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const temp = await tempDir();
  t.after(temp.remove);
  const proxy = await spawnProxy(t, ['--port', '0', '--upstream', upstream.url, '--cassette-dir', temp.dir, '--shutdown-grace', '0.3']);
  const res = await fetch(`${proxy.url}/v1/slow`, { method: 'POST' });
  const reader = res.body!.getReader();
  await reader.read();
  const exit = proxy.stop('SIGINT');
  const ended = await (async () => {
    try {
      for (;;) if ((await reader.read()).done) return 'clean end';
    } catch {
      return 'error';
    }
  })();
  assert.equal(ended, 'error', 'the client sees a failure, not a clean end');
  assert.equal(await exit, 0);
  assert.ok(!existsSync(path.join(temp.dir, 'default.yaml')), 'the cut stream was not saved');
});

test('the shutdown summary names the interactions never replayed (id, method, path), the first 50 of them', async (t) => {
  const upstream = await FakeUpstream.start();
  await upstream.close(); // replay never contacts it
  const temp = await tempDir();
  t.after(temp.remove);
  const [, model] = (await readCassetteFile(fixture('govcr-v4-chat-and-model.yaml'))).interactions;
  const blocks = Array.from({ length: 60 }, (_, id) => serializeInteraction({ ...model!, id, request: { ...model!.request, url: `http://127.0.0.1:18182/v1/models/m${id}?key=x` } }));
  await writeFile(path.join(temp.dir, 'default.yaml'), cassetteText(blocks));
  const proxy = await spawnProxy(t, ['--port', '0', '--mode', 'replay', '--upstream', upstream.url, '--cassette-dir', temp.dir]);
  assert.equal((await fetch(`${proxy.url}/v1/models/m0?key=x`)).status, 200);
  assert.equal(await proxy.stop('SIGTERM'), 0);
  const summary = proxy
    .stderr()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line))
    .find((record) => record.msg === 'cassette summary');
  const [row] = summary.cassettes;
  assert.equal(row.never_replayed, 59);
  assert.equal(row.never_replayed_interactions.length, 50);
  assert.deepEqual(row.never_replayed_interactions[0], { id: 1, method: 'GET', path: '/v1/models/m1' });
  assert.deepEqual(row.never_replayed_interactions[49], { id: 50, method: 'GET', path: '/v1/models/m50' });
  assert.equal(row.never_replayed_not_listed, 9);
  assert.equal(row.never_replayed_ids, undefined, 'the log line lists interactions, not the ids of GET /_proxy/cassettes');
});

test('interactions that could not be saved by shutdown: the summary is logged at error with unsaved and the error, and the process exits 1', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const temp = await tempDir();
  t.after(temp.remove);
  const proxy = await spawnProxy(t, ['--port', '0', '--upstream', upstream.url, '--cassette-dir', temp.dir, '--cassette', 'suite/a']);
  const client = new OpenAI({ apiKey: 'k', baseURL: `${proxy.url}/v1`, maxRetries: 0 });
  await client.embeddings.create({ model: 'text-embedding-3-small', input: 'saved' });
  await eventually(async () => assert.equal((await readCassetteYaml(path.join(temp.dir, 'suite', 'a.yaml'))).interactions.length, 1));
  // The folder vanishes and a file takes its place: no save can succeed, even as root.
  await rm(path.join(temp.dir, 'suite'), { recursive: true });
  await writeFile(path.join(temp.dir, 'suite'), 'not a folder');
  await client.embeddings.create({ model: 'text-embedding-3-small', input: 'lost' });
  assert.equal(await proxy.stop('SIGTERM'), 1);
  const summary = proxy
    .stderr()
    .split('\n')
    .filter((line) => line.includes('cassette summary'))
    .map((line) => JSON.parse(line));
  assert.equal(summary.length, 1);
  assert.equal(summary[0].level, 50);
  assert.equal(summary[0].unsaved, 1);
  const [row] = summary[0].cassettes;
  assert.match(row.cassette, /suite\/a\.yaml$/);
  assert.equal(row.unsaved, 1);
  assert.ok(row.save_failures >= 1);
  assert.match(row.last_save_error, /ENOTDIR/);
});
