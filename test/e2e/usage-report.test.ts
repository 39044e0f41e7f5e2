/** GET /_proxy/cassettes lists, per cassette loaded for replay, the ids of the interactions never replayed: what `prune` removes. */
import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { readCassetteFile } from '../support/cassettes.js';
import { FakeUpstream } from '../support/fake-upstream.js';
import { fixture } from '../support/paths.js';
import { cassetteWith, startTestProxy } from '../support/proxy.js';
import { eventually } from '../support/wait.js';

test('replay-or-record: what the proxy recorded itself is never listed as unused, even once the cassette is read again', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const proxy = await startTestProxy(t, { mode: 'replay-or-record', upstream: new URL(upstream.url), cassette: 'seed' });
  const file = path.join(proxy.dir, 'seed.yaml');
  await copyFile(fixture('seed.yaml'), file);
  const [turnOne] = (await readCassetteFile(file)).interactions;
  const post = (url: string, body: string) => fetch(`${proxy.url}${url}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then((r) => r.text());
  const embed = (input: string) => post('/v1/embeddings', JSON.stringify({ model: 'text-embedding-3-small', input }));

  assert.equal(await post('/v1/chat/completions', turnOne!.request.body as string), turnOne!.response.body); // replays id 0
  await embed('a'); // a miss: forwarded, recorded as id 2
  await embed('b'); // recorded as id 3
  await cassetteWith(proxy, 4, file);
  // Once "a" replays, the cassette was read again: its table now holds the recordings 2 and 3 too.
  await eventually(async () => {
    const forwarded = upstream.requests.length;
    await embed('a');
    assert.equal(upstream.requests.length, forwarded, 'answered from the cassette');
  });

  const { cassettes } = (await (await fetch(`${proxy.url}/_proxy/cassettes`)).json()) as any;
  const row = cassettes.find((r: any) => r.cassette === file);
  assert.deepEqual(row.never_replayed_ids, [1], 'id 1 was never asked for; 3 (and any "a" recorded again) were recorded by this run');
});
