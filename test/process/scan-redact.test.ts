/** `cassette-proxy scan` finds credentials in cassettes (exit 1); `cassette-proxy redact` removes them in place. */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { dump } from 'js-yaml';
import { digestMarker } from '../../src/redact/marker.js';
import { fixture, tempDir } from '../support/paths.js';
import { makeTestKey } from '../support/fake-upstream.js';
import { runBin } from '../support/spawn.js';

test('scan reports what looks like a credential and exits 1; redact rewrites the file atomically; scan is then clean', async (t) => {
  const temp = await tempDir();
  t.after(temp.remove);
  const key = makeTestKey();
  const leaky = {
    version: 2,
    interactions: [
      {
        id: 0,
        request: {
          proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: 0, host: 'api.openai.com',
          body: JSON.stringify({ model: 'm', api_key: 'hunter2hunter2' }),
          headers: { Authorization: [`Bearer ${key}`], 'X-Trace': ['abc'] },
          url: 'https://api.openai.com/v1/chat/completions?api-key=abcdefgh12345',
          method: 'POST',
        },
        response: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: -1, body: `{"error":"bad key ${key}"}`, headers: { 'Set-Cookie': ['s=1'] }, status: '401 Unauthorized', code: 401, duration: '1ms' },
      },
    ],
  };
  await writeFile(path.join(temp.dir, 'leaky.yaml'), `---\n${dump(leaky)}`);
  await copyFile(fixture('seed.yaml'), path.join(temp.dir, 'seed.yaml'));

  const scan = await runBin(['scan', temp.dir]);
  assert.equal(scan.code, 1);
  for (const where of ['request.headers.Authorization', 'request.url?api-key', 'request.body.api_key', 'response.body', 'response.headers.Set-Cookie']) {
    assert.ok(scan.stdout.includes(`leaky.yaml: interaction 0: ${where}`), `${where} reported:\n${scan.stdout}`);
  }
  assert.ok(!scan.stdout.includes('seed.yaml:'), 'the clean cassette is not reported');

  const redact = await runBin(['redact', path.join(temp.dir, 'leaky.yaml')]);
  assert.equal(redact.code, 0, redact.stderr);
  const text = await readFile(path.join(temp.dir, 'leaky.yaml'), 'utf8');
  for (const secret of [key, 'hunter2hunter2', 'abcdefgh12345']) assert.ok(!text.includes(secret));
  assert.ok(text.startsWith('---\nversion: 2\n'));
  assert.deepEqual((await readdir(temp.dir)).sort(), ['leaky.yaml', 'seed.yaml'], 'no temp file left behind');

  const clean = await runBin(['scan', temp.dir]);
  assert.equal(clean.code, 0, clean.stdout);
  assert.match(clean.stdout, /no credentials found in 2 cassette/);
});

function cassetteOf(request: Record<string, unknown>, response: Record<string, unknown> = {}): string {
  return `---\n${dump({
    version: 2,
    interactions: [
      {
        id: 0,
        request: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: 0, host: 'api.openai.com', body: '', headers: {}, url: 'https://api.openai.com/v1/responses', method: 'POST', ...request },
        response: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: -1, body: '{}', headers: {}, status: '200 OK', code: 200, duration: '1ms', ...response },
      },
    ],
  })}`;
}

test('scan takes files and folders, skips node_modules and .git, and each finding names the command that fixes it; running those commands leaves nothing', async (t) => {
  const temp = await tempDir();
  t.after(temp.remove);
  const key = makeTestKey();
  const at = (...parts: string[]): string => path.join(temp.dir, ...parts);
  await mkdir(at('cassettes', 'suite'), { recursive: true });
  await mkdir(at('node_modules', 'pkg'), { recursive: true });
  await mkdir(at('.git'), { recursive: true });
  const sse = `data: ${JSON.stringify({ delta: `your key:\n${key}` })}\n\n`;
  await writeFile(at('cassettes', 'suite', 'stream.yml'), cassetteOf({ body: JSON.stringify({ input: `a\n${key}`, api_key: ['k-123456789'] }) }, { body: sse, status: `401 bad key ${key}`, code: 401 }));
  await writeFile(at('cassettes', 'custom.yaml'), cassetteOf({ headers: { 'X-Team-Key': ['3f9a7c2e1b8d6a30c4e5'], 'X-Goog-Api-Key': ['AIza-0123456789'] }, form: { client_secret: ['cs-123456789'] } }));
  await copyFile(fixture('seed.yaml'), at('cassettes', 'seed.yaml'));
  await writeFile(at('node_modules', 'pkg', 'leak.yaml'), cassetteOf({ headers: { Authorization: [`Bearer ${key}`] } }));
  await writeFile(at('.git', 'leak.yaml'), cassetteOf({ headers: { Authorization: [`Bearer ${key}`] } }));

  const scan = await runBin(['scan', temp.dir]);
  assert.equal(scan.code, 1, scan.stderr);
  const lines = scan.stdout.trim().split('\n');
  const findings = lines.slice(0, -1);
  assert.match(lines.at(-1)!, /^\d+ problem\(s\) in 3 cassette\(s\)$/, 'node_modules and .git are not searched');
  assert.ok(!scan.stdout.includes('leak.yaml'));
  for (const where of ['request.body', 'request.body.api_key', 'response.body', 'response.status']) {
    assert.ok(findings.some((l) => l.includes(`stream.yml: interaction 0: ${where} holds `)), `${where} in stream.yml:\n${scan.stdout}`);
  }
  for (const where of ['request.headers.X-Goog-Api-Key', 'request.form.client_secret']) assert.ok(findings.some((l) => l.includes(`custom.yaml: interaction 0: ${where}`)), where);
  for (const line of findings) {
    const file = line.includes('custom.yaml') ? at('cassettes', 'custom.yaml') : at('cassettes', 'suite', 'stream.yml');
    const flag = line.includes('X-Team-Key') ? ' --redact-header X-Team-Key' : '';
    assert.ok(line.endsWith(`; fix: cassette-proxy redact${flag} ${file}${flag && ` (and record with${flag})`}`), line);
  }

  // Staged files, as a pre-commit hook passes them.
  const files = await runBin(['scan', at('cassettes', 'seed.yaml'), at('cassettes', 'custom.yaml')]);
  assert.equal(files.code, 1);
  assert.ok(files.stdout.includes('custom.yaml') && !files.stdout.includes('stream.yml'), files.stdout);
  assert.match(files.stdout, /problem\(s\) in 2 cassette\(s\)\n$/);
  assert.equal((await runBin(['scan', at('cassettes', 'seed.yaml')])).code, 0);

  // Run each fix as printed.
  const fixes = new Set(findings.map((l) => /; fix: cassette-proxy (.*?)(?: \(and record with .*\))?$/.exec(l)![1]!));
  for (const fix of fixes) {
    const run = await runBin(fix.split(' '));
    assert.ok(run.code === 0 || fix.includes('custom.yaml'), `${fix}: ${run.stdout}${run.stderr}`);
  }
  const clean = await runBin(['scan', temp.dir]);
  assert.equal(clean.code, 0, clean.stdout);
  assert.ok(!(await readFile(at('cassettes', 'suite', 'stream.yml'), 'utf8')).includes(key));
});

test('scan and redact: a usage error exits 2', async () => {
  for (const args of [['scan'], ['scan', '--no-such-flag', '.'], ['redact']]) {
    const run = await runBin(args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stdout}${run.stderr}`);
    assert.match(run.stderr, /^cassette-proxy (scan|redact): /);
  }
});

test('scan and redact: a path that does not exist exits 1 naming it; redact takes several files and folders', async () => {
  for (const command of ['scan', 'redact']) {
    const run = await runBin([command, '/no/such/folder']);
    assert.equal(run.code, 1, `${command}: ${run.stdout}${run.stderr}`);
    assert.match(run.stderr, /\/no\/such\/folder: ENOENT/);
  }
  const temp = await tempDir();
  const key = makeTestKey();
  const leaky = (id: string) => cassetteWithKey(key, id);
  await mkdir(path.join(temp.dir, 'a', 'b'), { recursive: true });
  await writeFile(path.join(temp.dir, 'one.yaml'), leaky('one'));
  await writeFile(path.join(temp.dir, 'a', 'b', 'two.yaml'), leaky('two'));
  const redacted = await runBin(['redact', path.join(temp.dir, 'one.yaml'), path.join(temp.dir, 'a')]);
  assert.equal(redacted.code, 0, redacted.stdout + redacted.stderr);
  for (const file of [path.join(temp.dir, 'one.yaml'), path.join(temp.dir, 'a', 'b', 'two.yaml')]) assert.ok(!(await readFile(file, 'utf8')).includes(key), file);
  assert.equal((await runBin(['scan', temp.dir])).code, 0);
  await temp.remove();
});

/** A one-interaction cassette whose Authorization header and answer hold `key`. */
function cassetteWithKey(key: string, model: string): string {
  const request = { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: 0, host: 'api.openai.com', body: JSON.stringify({ model }), headers: { Authorization: [`Bearer ${key}`] }, url: 'https://api.openai.com/v1/chat/completions', method: 'POST' };
  const response = { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: -1, body: `{"echo":"${key}"}`, headers: {}, status: '200 OK', code: 200, duration: '1ms' };
  return `---\n${dump({ version: 2, interactions: [{ id: 0, request, response }] })}`;
}

test('redact writes digests under CASSETTE_PROXY_REDACT_KEY (or --redact-key), as the replaying proxy has it; a short key is a usage error that does not repeat it', async (t) => {
  const temp = await tempDir();
  t.after(temp.remove);
  const key = makeTestKey();
  const file = path.join(temp.dir, 'keyed.yaml');
  const leaky = cassetteOf({ headers: { Authorization: [`Bearer ${key}`] } });
  const teamKey = `team-redaction-key-${'7'.repeat(8)}`;
  await writeFile(file, leaky);
  const redact = await runBin(['redact', file], { CASSETTE_PROXY_REDACT_KEY: teamKey });
  assert.equal(redact.code, 0, redact.stderr);
  assert.ok((await readFile(file, 'utf8')).includes(`Bearer ${digestMarker(teamKey)(key)}`));

  await writeFile(file, leaky);
  assert.equal((await runBin(['redact', '--redact-key', teamKey, file])).code, 0);
  assert.ok((await readFile(file, 'utf8')).includes(`Bearer ${digestMarker(teamKey)(key)}`), 'the flag gives the same digests');

  await writeFile(file, leaky);
  const short = await runBin(['redact', file], { CASSETTE_PROXY_REDACT_KEY: 'short-key-1' });
  assert.equal(short.code, 2);
  assert.match(short.stderr, /--redact-key \(CASSETTE_PROXY_REDACT_KEY\): must be at least 16 characters/);
  assert.ok(!short.stderr.includes('short-key-1'));
  assert.equal(await readFile(file, 'utf8'), leaky, 'nothing was rewritten');
});
