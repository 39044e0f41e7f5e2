/**
 * The cassette tools through the built bin, on real cassettes (go-vcr's among them): inspect,
 * prune (driven by a replay run's GET /_proxy/cassettes), merge, and scan/redact on go-vcr files.
 * A pruned or merged cassette must load with the project's loader and carry go-vcr's fields.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { cassetteText, parseCassette, serializeInteraction } from '../../src/cassette/codec.js';
import type { Interaction } from '../../src/cassette/types.js';
import { readCassetteFile } from '../support/cassettes.js';
import { FakeUpstream } from '../support/fake-upstream.js';
import { fixture, tempDir } from '../support/paths.js';
import { parseCassetteYaml, startTestProxy, type TestProxy } from '../support/proxy.js';
import { runBin } from '../support/spawn.js';

const SEED = fixture('seed.yaml');
const GOVCR = fixture('govcr-v4-chat-and-model.yaml');

async function interactionsOf(file: string): Promise<Interaction[]> {
  return (await readCassetteFile(file)).interactions;
}

/** The cassette as a plain YAML reader sees it, with the fields go-vcr needs to load it. */
async function assertGoVcrShape(file: string, count: number): Promise<void> {
  const doc = parseCassetteYaml(await readFile(file, 'utf8'));
  assert.equal(doc.version, 2);
  assert.equal(doc.interactions.length, count);
  doc.interactions.forEach((i: any, id: number) => {
    assert.equal(i.id, id, 'ids run 0, 1, 2…');
    assert.equal(typeof i.request.method, 'string');
    assert.equal(typeof i.request.url, 'string');
    assert.equal(typeof i.request.headers, 'object');
    assert.equal(typeof i.response.code, 'number');
    assert.equal(typeof i.response.status, 'string');
    assert.ok(typeof i.response.body === 'string' || i.response.body instanceof Uint8Array);
    assert.equal(typeof i.response.duration, 'string');
  });
}

/** Each interaction's text in a go-vcr-style file: from one `    - id:` line to the next. */
function blocks(text: string): string[] {
  return text.split(/^(?= {4}- id: )/m).slice(1);
}

async function withTemp(t: TestContext): Promise<string> {
  const temp = await tempDir();
  t.after(temp.remove);
  return temp.dir;
}

test('inspect prints one line per interaction and totals, or --json; files and folders alike', async (t) => {
  const dir = await withTemp(t);
  await mkdir(path.join(dir, 'suite', 'node_modules'), { recursive: true });
  await copyFile(SEED, path.join(dir, 'suite', 'seed.yaml'));
  await copyFile(GOVCR, path.join(dir, 'suite', 'node_modules', 'skipped.yaml'));

  const text = await runBin(['inspect', GOVCR, dir]);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.split('\n');
  assert.ok(!text.stdout.includes('skipped.yaml'), 'node_modules is not searched');
  assert.match(text.stdout, /^ {2}id {2}method {2}path +status {2}model +stream {2}events {2}tokens in {2}tokens out +size$/m);
  assert.ok(lines.some((l) => /^ {3}0 {2}POST {4}\/v1\/chat\/completions +200 {2}test-model +yes +4 +- +- +529 B$/.test(l)), text.stdout);
  assert.ok(lines.some((l) => /^ {3}1 {2}GET {5}\/v1\/models\/test-model +200 {2}- +no +- +- +- +82 B$/.test(l)), text.stdout);
  assert.ok(lines.some((l) => /^ {3}0 {2}POST {4}\/v1\/chat\/completions +200 {2}gpt-4o-mini {2}yes +13 +73 +17 +5\.1 KiB$/.test(l)), text.stdout);
  assert.match(text.stdout, /total: 2 interaction\(s\), 2 streamed, 25 events, 171 tokens in, 26 tokens out, 9\.6 KiB/);
  assert.match(text.stdout, /all 2 cassettes: 4 interaction\(s\), 3 streamed, 29 events, 171 tokens in, 26 tokens out/);

  const json = await runBin(['inspect', '--json', SEED]);
  assert.equal(json.code, 0, json.stderr);
  const [report] = JSON.parse(json.stdout);
  assert.match(report.cassette, /seed\.yaml$/);
  assert.deepEqual(report.interactions[1], {
    id: 1, method: 'POST', path: '/v1/chat/completions', status: 200, model: 'gpt-4o-mini', streamed: true, events: 12, tokens_in: 98, tokens_out: 9, size: 4588,
  });
  assert.deepEqual(report.totals, { interactions: 2, streamed: 2, events: 25, tokens_in: 171, tokens_out: 26, size: 5214 + 4588 });

  // A broken cassette: exit 1 naming it, the readable ones still shown.
  await writeFile(path.join(dir, 'broken.yaml'), 'version: 2\ninteractions: {');
  const broken = await runBin(['inspect', dir]);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /broken\.yaml is not valid YAML/);
  assert.match(broken.stdout, /seed\.yaml/);
  const missing = await runBin(['inspect', path.join(dir, 'nope.yaml')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nope\.yaml: ENOENT/);

  for (const args of [['inspect'], ['inspect', SEED, '--jsno']]) {
    const usage = await runBin(args);
    assert.equal(usage.code, 2, `${args.join(' ')}: ${usage.stderr}`);
    assert.match(usage.stderr, /Run cassette-proxy inspect --help/);
  }
  const help = await runBin(['inspect', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Exit status: 0 done; 1 [^]*2 a usage error/);
});

/** A replaying proxy over copies of the two go-vcr fixtures, and what a suite that uses half of each left in its usage report. */
async function replayRun(t: TestContext): Promise<{ proxy: TestProxy; report: string; seed: string; govcr: string }> {
  const upstream = await FakeUpstream.start();
  await upstream.close(); // replay never contacts it
  const proxy = await startTestProxy(t, { mode: 'replay', upstream: new URL(upstream.url), cassette: 'seed' });
  const seed = path.join(proxy.dir, 'seed.yaml');
  const govcr = path.join(proxy.dir, 'govcr.yaml');
  await copyFile(SEED, seed);
  await copyFile(GOVCR, govcr);
  const [turnOne] = await interactionsOf(SEED);
  const replayed = await fetch(`${proxy.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: turnOne!.request.body as string });
  assert.equal(await replayed.text(), turnOne!.response.body);
  const model = await fetch(`${proxy.url}/v1/models/test-model`, { headers: { 'x-cassette': 'govcr' } });
  assert.equal(((await model.json()) as any).owned_by, 'govcr-check');

  const usage = await (await fetch(`${proxy.url}/_proxy/cassettes`)).json() as any;
  const row = (file: string) => usage.cassettes.find((r: any) => r.cassette === file);
  assert.deepEqual([row(seed).interactions_on_disk, row(seed).replayed, row(seed).never_replayed_ids], [2, 1, [1]]);
  assert.deepEqual(row(govcr).never_replayed_ids, [0]);
  const report = path.join(proxy.dir, 'usage.json');
  await writeFile(report, JSON.stringify(usage));
  return { proxy, report, seed, govcr };
}

test('prune removes what a replay run never used, keeps the rest byte for byte with ids renumbered, and the result loads and replays', async (t) => {
  const { proxy, report, seed, govcr } = await replayRun(t);
  const before = { seed: await readFile(seed, 'utf8'), govcr: await readFile(govcr, 'utf8') };

  const dry = await runBin(['prune', '--usage', report, '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /seed\.yaml: would remove 1 of 2 interaction\(s\):\n {2}- id 1 POST \/v1\/chat\/completions/);
  assert.match(dry.stdout, /govcr\.yaml: would remove 1 of 2 interaction\(s\):\n {2}- id 0 POST \/v1\/chat\/completions/);
  assert.equal(await readFile(seed, 'utf8'), before.seed, '--dry-run changes nothing');
  assert.equal(await readFile(govcr, 'utf8'), before.govcr);

  const pruned = await runBin(['prune', '--usage', report]);
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.match(pruned.stdout, /seed\.yaml: removed 1 of 2 interaction\(s\), 1 left/);
  // What is left is the file's own text: the header and the kept interaction, its id renumbered.
  const [seedHeader] = before.seed.split(/^(?= {4}- id: )/m);
  assert.equal(await readFile(seed, 'utf8'), seedHeader + blocks(before.seed)[0]);
  const [govcrHeader] = before.govcr.split(/^(?= {4}- id: )/m);
  assert.equal(await readFile(govcr, 'utf8'), govcrHeader + blocks(before.govcr)[1]!.replace('    - id: 1', '    - id: 0'));
  for (const [file, original, kept] of [[seed, SEED, 0], [govcr, GOVCR, 1]] as const) {
    await assertGoVcrShape(file, 1);
    assert.deepEqual(await interactionsOf(file), [{ ...(await interactionsOf(original))[kept]!, id: 0 }]);
  }
  // The suite's requests still replay from the pruned cassettes.
  const [turnOne] = await interactionsOf(SEED);
  const again = await fetch(`${proxy.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: turnOne!.request.body as string });
  assert.equal(await again.text(), turnOne!.response.body);

  // The report no longer describes the files (they have 1 interaction, it says 2): refused, untouched.
  const now = await readFile(seed);
  const stale = await runBin(['prune', '--usage', report]);
  assert.equal(stale.code, 1);
  assert.match(stale.stderr, /seed\.yaml has 1 interaction\(s\), the report was made when it had 2: it changed since the run; left unchanged/);
  assert.deepEqual(await readFile(seed), now);
});

test('prune: several reports (replicas) remove only what none used; --base resolves relative names; bad input is refused', async (t) => {
  const dir = await withTemp(t);
  await mkdir(path.join(dir, 'run', 'cassettes'), { recursive: true });
  const seed = path.join(dir, 'run', 'cassettes', 'seed.yaml');
  await copyFile(SEED, seed);
  const report = async (name: string, ids: number[], onDisk = 2): Promise<string> => {
    const file = path.join(dir, name);
    await writeFile(file, JSON.stringify({ cassettes: [{ cassette: 'cassettes/seed.yaml', interactions_on_disk: onDisk, replayed: 2 - ids.length, never_replayed: ids.length, recorded_since_start: 0, never_replayed_ids: ids }] }));
    return file;
  };
  const a = await report('a.json', [0, 1]);
  const b = await report('b.json', [1]);
  const original = await readFile(seed);

  const disagree = await runBin(['prune', '--usage', a, '--usage', await report('c.json', [1], 3), '--base', path.join(dir, 'run')]);
  assert.equal(disagree.code, 1);
  assert.match(disagree.stderr, /the reports disagree on cassettes\/seed\.yaml/);
  const notReport = await runBin(['prune', '--usage', SEED]);
  assert.equal(notReport.code, 1);
  assert.match(notReport.stderr, /usage report .*seed\.yaml/);
  const wrongId = await runBin(['prune', '--usage', await report('d.json', [7]), '--base', path.join(dir, 'run')]);
  assert.equal(wrongId.code, 1);
  assert.match(wrongId.stderr, /has no interaction with id 7/);
  for (const args of [['prune'], ['prune', '--usage', a, '--dry-rnu']]) assert.equal((await runBin(args)).code, 2, args.join(' '));
  assert.deepEqual(await readFile(seed), original, 'refusals leave the file alone');

  const pruned = await runBin(['prune', '--usage', a, '--usage', b, '--base', path.join(dir, 'run')]);
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.deepEqual(await interactionsOf(seed), [(await interactionsOf(SEED))[0]]);
  await assertGoVcrShape(seed, 1);
});

test('merge combines replicas in a stable order, drops exact duplicates, keeps genuine repeats in sequence, and replays them in turn', async (t) => {
  const dir = await withTemp(t);
  const [seed0, seed1] = await interactionsOf(SEED);
  const [govcr0, govcr1] = await interactionsOf(GOVCR);
  const repeat = { ...seed0!, response: { ...seed0!.response, body: String(seed0!.response.body).replaceAll('"15"', '"16"') } };
  // Replica A: go-vcr's seed file as it is. Replica B: the same two, in this proxy's style, then a
  // new answer to the same first request, then go-vcr's other cassette.
  const a = path.join(dir, 'a.yaml');
  const b = path.join(dir, 'replica-b', 'b.yaml');
  await copyFile(SEED, a);
  await mkdir(path.dirname(b));
  await writeFile(b, cassetteText([seed0!, seed1!, repeat, govcr0!, govcr1!].map((i, id) => serializeInteraction({ ...i, id }))));
  const out = path.join(dir, 'merged.yaml');

  const merged = await runBin(['merge', out, a, path.dirname(b)]);
  assert.equal(merged.code, 0, merged.stderr);
  assert.match(merged.stdout, /merged\.yaml: 5 interaction\(s\) from 2 cassette\(s\); 2 exact duplicate\(s\) dropped/);
  const expected = [seed0!, seed1!, repeat, govcr0!, govcr1!].map((i, id) => ({ ...i, id }));
  assert.deepEqual(await interactionsOf(out), expected);
  await assertGoVcrShape(out, 5);
  assert.ok((await readFile(out, 'utf8')).startsWith(await readFile(SEED, 'utf8')), "replica A's interactions keep their text");

  // Replayed, the first request gets its two answers in order.
  const upstream = await FakeUpstream.start();
  await upstream.close();
  const proxy = await startTestProxy(t, { mode: 'replay', upstream: new URL(upstream.url), cassette: 'merged' });
  await copyFile(out, path.join(proxy.dir, 'merged.yaml'));
  const ask = async () =>
    (await fetch(`${proxy.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: seed0!.request.body as string })).text();
  assert.equal(await ask(), seed0!.response.body);
  assert.equal(await ask(), repeat.response.body);

  // <out> that exists and is not an input is refused (untouched) unless --force; merging into an input is fine.
  const other = path.join(dir, 'other.yaml');
  await copyFile(GOVCR, other);
  const refused = await runBin(['merge', other, a]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /other\.yaml exists and is not one of the inputs/);
  assert.deepEqual(await readFile(other), await readFile(GOVCR));
  const forced = await runBin(['merge', '--force', other, a]);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(await readFile(other, 'utf8'), await readFile(SEED, 'utf8'), 'one input, nothing dropped: the same file');
  const into = await runBin(['merge', a, a, GOVCR]);
  assert.equal(into.code, 0, into.stderr);
  assert.equal((await interactionsOf(a)).length, 4);
  await assertGoVcrShape(a, 4);

  // An unreadable input: nothing written.
  await writeFile(path.join(dir, 'broken.yaml'), 'version: 3\ninteractions: []\n');
  const before = await readFile(out);
  const broken = await runBin(['merge', out, out, path.join(dir, 'broken.yaml')]);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /broken\.yaml has version 3.*nothing written/);
  assert.deepEqual(await readFile(out), before);
  assert.equal((await runBin(['merge', out])).code, 2, 'no input is a usage error');
});

test('scan and redact on go-vcr cassettes: nothing to report, and redact leaves them byte for byte', async (t) => {
  const dir = await withTemp(t);
  await copyFile(SEED, path.join(dir, 'seed.yaml'));
  await copyFile(GOVCR, path.join(dir, 'govcr.yaml'));
  const scan = await runBin(['scan', dir]);
  assert.equal(scan.code, 0, scan.stdout);
  assert.match(scan.stdout, /no credentials found in 2 cassette/);
  for (const [name, original] of [['seed.yaml', SEED], ['govcr.yaml', GOVCR]] as const) {
    const redact = await runBin(['redact', path.join(dir, name)]);
    assert.equal(redact.code, 0, redact.stderr);
    assert.match(redact.stdout, /nothing to redact; left as it was/);
    assert.equal(await readFile(path.join(dir, name), 'utf8'), await readFile(original, 'utf8'), `${name} is not rewritten`);
    const after = parseCassette(await readFile(path.join(dir, name), 'utf8'), name).interactions;
    assert.ok(isDeepStrictEqual(after, await interactionsOf(original)), `${name} keeps its values`);
    await assertGoVcrShape(path.join(dir, name), 2);
  }
});
