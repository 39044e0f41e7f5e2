/** The library API (`import { startProxy } from 'cassette-proxy'`): options as the flags, admin operations as methods. */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import OpenAI from 'openai';
import { ProxyError, UsageError, startProxy } from '../../src/api/index.js';
import { createLogger } from '../../src/log.js';
import { FakeUpstream } from '../support/fake-upstream.js';
import { tempDir } from '../support/paths.js';
import { startTestProxy } from '../support/proxy.js';
import { eventually } from '../support/wait.js';

test('records and replays through options named like the flags; mode, setMode and usage work as the admin API does', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const temp = await tempDir();
  t.after(temp.remove);
  const proxy = await startProxy({ upstream: new URL(upstream.url), port: 0, cassetteDir: temp.dir, cassette: 'lib', logLevel: 'silent' });
  t.after(() => proxy.close());
  assert.match(proxy.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.deepEqual(proxy.mode(), { mode: 'record', cassette: 'lib' });

  const client = new OpenAI({ apiKey: 'test-key-1234', baseURL: `${proxy.url}/v1`, maxRetries: 0 });
  const ask = () => client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });
  await ask();
  await eventually(() => assert.equal(proxy.usage()[0]?.recorded_since_start, 1));

  assert.deepEqual(await proxy.setMode({ mode: 'replay' }), { mode: 'replay', cassette: 'lib' });
  await ask();
  assert.equal(upstream.requests.length, 1, 'replayed, not forwarded');
  assert.equal(proxy.usage()[0]?.replayed, 1);
  await assert.rejects(proxy.setMode({ mode: 'sideways' as never }), (e: unknown) => e instanceof ProxyError && e.code === 'invalid_request');
  await assert.rejects(proxy.setMode({ cassette: '../out' }), (e: unknown) => e instanceof ProxyError && e.code === 'invalid_cassette_name');
});

test('a bad or unknown option throws a UsageError naming the option; lockMode refuses setMode', async (t) => {
  await assert.rejects(startProxy({ port: 70000 }), (e: unknown) => e instanceof UsageError && /option port: must be an integer/.test(e.message));
  await assert.rejects(startProxy({ prot: 0 } as never), (e: unknown) => e instanceof UsageError && /unknown option prot \(did you mean port\?\)/.test(e.message));
  await assert.rejects(startProxy({ lockMode: 'yes' as never }), (e: unknown) => e instanceof UsageError && /option lockMode/.test(e.message));
  await assert.rejects(startProxy({ adminToken: 'short' }), (e: unknown) => e instanceof UsageError && /option adminToken: must be at least 8 characters/.test(e.message));
  const temp = await tempDir();
  t.after(temp.remove);
  const proxy = await startProxy({ port: 0, cassetteDir: temp.dir, lockMode: true, logLevel: 'silent', mode: 'replay' });
  t.after(() => proxy.close());
  await assert.rejects(proxy.setMode({ mode: 'record' }), (e: unknown) => e instanceof ProxyError && e.code === 'mode_locked');
});

test('await using closes the proxy when the block ends', async () => {
  const temp = await tempDir();
  let url: string;
  {
    await using proxy = await startProxy({ port: 0, cassetteDir: temp.dir, logLevel: 'silent' });
    url = proxy.url;
    assert.equal((await fetch(`${url}/_proxy/health`)).status, 200);
  }
  await assert.rejects(fetch(`${url}/_proxy/health`));
  await temp.remove();
});

test('a replay proxy whose default cassette does not exist says nothing of it at start, nor lists it', async (t) => {
  let logged = '';
  const log = createLogger('info', new Writable({ write: (chunk, _enc, done) => void ((logged += String(chunk)), done()) }));
  const proxy = await startTestProxy(t, { upstream: new URL('http://127.0.0.1:9'), mode: 'replay' }, log);
  // A request through another cassette: by its answer, the start-up look at the default one is long done.
  const res = await fetch(`${proxy.baseURL}/models`, { headers: { 'x-cassette': 'suite/other' } });
  assert.equal(res.status, 404);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.doesNotMatch(logged, /default\.yaml/);
  const { cassettes } = (await (await fetch(`${proxy.url}/_proxy/cassettes`)).json()) as { cassettes: { cassette: string }[] };
  assert.deepEqual(cassettes.map((c) => c.cassette.endsWith('other.yaml')), [true]);
});

test('close() rejects, naming the cassette, when recorded interactions could not be saved', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const temp = await tempDir();
  t.after(temp.remove);
  const proxy = await startProxy({ upstream: upstream.url, port: 0, cassetteDir: temp.dir, cassette: 'suite/a', logLevel: 'silent' });
  const client = new OpenAI({ apiKey: 'test-key-1234', baseURL: `${proxy.url}/v1`, maxRetries: 0 });
  await client.embeddings.create({ model: 'text-embedding-3-small', input: 'saved' });
  await eventually(() => assert.equal(proxy.usage()[0]?.recorded_since_start, 1));
  // The folder vanishes and a file takes its place: no save can succeed, even as root.
  await rm(path.join(temp.dir, 'suite'), { recursive: true });
  await writeFile(path.join(temp.dir, 'suite'), 'not a folder');
  await client.embeddings.create({ model: 'text-embedding-3-small', input: 'lost' });
  await assert.rejects(proxy.close(), (e: unknown) => e instanceof ProxyError && e.code === 'recordings_unsaved' && /suite\/a\.yaml: 1 /.test(e.message));
});
