/** `cassette-proxy scan` finds credentials in cassettes (exit 1); `cassette-proxy redact` removes them in place. */
import assert from 'node:assert/strict';
import { copyFile, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { dump } from 'js-yaml';
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
