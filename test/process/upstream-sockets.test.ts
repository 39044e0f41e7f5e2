/** HTTPS upstreams, and no socket or file descriptor left behind after 1,000 upstream faults. */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import OpenAI from 'openai';
import { FakeUpstream, makeTestKey } from '../support/fake-upstream.js';
import { tempDir } from '../support/paths.js';
import { readCassetteYaml } from '../support/proxy.js';
import { spawnProxy } from '../support/spawn.js';
import { selfSignedCert } from '../support/tls.js';
import { eventually } from '../support/wait.js';

test('an HTTPS upstream works: the answer comes through and the cassette records the https URL', async (t) => {
  const temp = await tempDir();
  t.after(temp.remove);
  const tls = await selfSignedCert(temp.dir);
  const key = makeTestKey();
  const upstream = await FakeUpstream.start({ tls, apiKey: key });
  t.after(() => upstream.close());
  const cassettes = path.join(temp.dir, 'cassettes');
  const proxy = await spawnProxy(t, ['--port', '0', '--upstream', upstream.url, '--cassette-dir', cassettes], { env: { NODE_EXTRA_CA_CERTS: tls.certFile } });
  const client = new OpenAI({ apiKey: key, baseURL: `${proxy.url}/v1`, maxRetries: 0 });
  const embedding = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'x' });
  assert.equal(embedding.data.length, 1);
  assert.equal(await proxy.stop(), 0);
  const cassette = await readCassetteYaml(path.join(cassettes, 'default.yaml'));
  assert.equal(cassette.interactions[0].request.url, `${upstream.url}/v1/embeddings`);
});

async function openDescriptors(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

function post(agent: http.Agent, url: string): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: 'POST', agent }, (res) => {
      res.on('data', () => undefined);
      res.on('end', resolve);
      res.on('error', () => resolve());
    });
    req.on('error', () => resolve());
    req.end();
  });
}

test('after 1,000 upstream faults the proxy holds no more sockets or file descriptors than before', { timeout: 120_000, skip: process.platform !== 'linux' && 'needs /proc' }, async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const temp = await tempDir();
  t.after(temp.remove);
  const proxy = await spawnProxy(t, ['--port', '0', '--upstream', upstream.url, '--cassette-dir', temp.dir, '--upstream-timeout', '0.05', '--log-level', 'error']);
  const pid = proxy.child.pid!;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 50 });
  t.after(() => agent.destroy());
  const faults = async (count: number): Promise<void> => {
    const paths = ['/v1/reset', '/v1/hang'];
    await Promise.all(Array.from({ length: count }, (_, i) => post(agent, `${proxy.url}${paths[i % 2]}`)));
  };
  await faults(50); // warm up: lazily created descriptors (timers, thread pool) exist from here on
  agent.destroy();
  await eventually(async () => assert.ok((await openDescriptors(pid)) > 0));
  const before = await eventually(async () => {
    const a = await openDescriptors(pid);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await openDescriptors(pid), a, 'settled');
    return a;
  });

  await faults(1000);
  agent.destroy();
  const after = await eventually(async () => {
    const n = await openDescriptors(pid);
    assert.ok(n <= before, `${n} descriptors after, ${before} before`);
    return n;
  }, 10_000);
  assert.ok(after <= before);
  t.diagnostic(`open descriptors: ${before} before, ${after} after 1,000 upstream faults`);
  const res = await fetch(`${proxy.url}/_proxy/health`);
  assert.equal(res.status, 200, 'still serving');
  assert.equal(await proxy.stop(), 0);
});
