/** The built bin as a child process: startup line, flags and variables, a recorded exchange, shutdown. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import OpenAI from 'openai';
import { FakeUpstream, makeTestKey } from '../support/fake-upstream.js';
import { REPO_ROOT, tempDir } from '../support/paths.js';
import { readCassetteYaml } from '../support/proxy.js';
import { runBin, spawnProxy } from '../support/spawn.js';
import { eventually } from '../support/wait.js';

test('the bin prints its startup line, records through the openai client, and leaves a version 2 cassette on SIGTERM', async (t) => {
  const key = makeTestKey();
  const upstream = await FakeUpstream.start({ apiKey: key });
  t.after(() => upstream.close());
  const temp = await tempDir();
  t.after(temp.remove);
  const proxy = await spawnProxy(t, ['--port', '0'], { cwd: temp.dir, env: { CASSETTE_PROXY_UPSTREAM: upstream.url } });
  assert.match(proxy.banner, new RegExp(`^cassette-proxy record: upstream ${upstream.url}, listening on http://127\\.0\\.0\\.1:\\d+, cassette cassettes/default\\.yaml$`));

  const client = new OpenAI({ apiKey: key, baseURL: `${proxy.url}/v1`, maxRetries: 0 });
  const chat = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(chat.object, 'chat.completion');
  // The log is buffered for speed, but a quiet proxy's lines still show soon (every 200 ms), not only at exit.
  await eventually(() => assert.match(proxy.stderr(), /"outcome":"recorded".*"msg":"exchange"/), 2500);

  assert.equal(await proxy.stop('SIGTERM'), 0);
  const cassette = await readCassetteYaml(path.join(temp.dir, 'cassettes', 'default.yaml'));
  assert.equal(cassette.version, 2);
  assert.equal(cassette.interactions.length, 1);
});

test('--help lists every flag with its default', async () => {
  const { code, stdout } = await runBin(['--help']);
  assert.equal(code, 0);
  for (const flag of ['--mode', '--upstream', '--host', '--port', '--cassette-dir', '--cassette', '--redact-header', '--log-level']) {
    assert.ok(stdout.includes(flag), flag);
  }
  assert.match(stdout, /default: "https:\/\/api\.openai\.com"/);
  assert.match(stdout, /default: "8080"/);
});

test('a bad value exits with status 2 and names the flag, from the command line or the environment', async () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['--port', 'eighty'], {}, /--port/],
    [['--port', '70000'], {}, /--port/],
    [['--mode', 'sideways'], {}, /--mode/],
    [['--upstream', 'not a url'], {}, /--upstream/],
    [['--cassette', '../outside'], {}, /--cassette/],
    [[], { CASSETTE_PROXY_PORT: '-1' }, /CASSETTE_PROXY_PORT/],
    [['--such-flag'], {}, /such-flag/],
  ];
  for (const [args, env, message] of cases) {
    const { code, stderr } = await runBin(args, env);
    assert.equal(code, 2, `${args.join(' ')} ${JSON.stringify(env)}`);
    assert.match(stderr, message);
  }
});

test('http-proxy never calls the deprecated util._extend (no DEP0060 warning on Node 22+)', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const temp = await tempDir();
  t.after(temp.remove);
  const spy = pathToFileURL(path.join(REPO_ROOT, 'dist', 'test', 'support', 'extend-spy.js')).href;
  const proxy = await spawnProxy(t, ['--port', '0', '--upstream', upstream.url, '--cassette-dir', temp.dir], { nodeArgs: ['--import', spy] });
  const res = await fetch(`${proxy.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"m","input":"x"}' });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  assert.equal(await proxy.stop(), 0);
  assert.doesNotMatch(proxy.stderr(), /util\._extend was called|DEP0060/);
  assert.ok(existsSync(path.join(temp.dir, 'default.yaml')));
});

test('--version prints the package version; a typo gets the nearest flag or command; a flag without its value refuses to start', async () => {
  const { version } = JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const printed = await runBin(['--version']);
  assert.equal(printed.code, 0);
  assert.equal(printed.stdout.trim(), version);
  const cases: [string[], RegExp][] = [
    [['--mdoe', 'replay'], /unknown flag --mdoe \(did you mean --mode\?\)/],
    [['--cassete-dir', 'x'], /unknown flag --cassete-dir \(did you mean --cassette-dir\?\)/],
    [['scna', 'cassettes/'], /unknown argument "scna" \(did you mean scan\?\)/],
    [['--mode'], /--mode \(CASSETTE_PROXY_MODE\): needs a value/],
    [['--mode', '--port', '0'], /--mode \(CASSETTE_PROXY_MODE\): needs a value/],
    [['--port', '0', '--upstream'], /--upstream .*needs a value/],
  ];
  for (const [args, message] of cases) {
    const { code, stderr } = await runBin(args);
    assert.equal(code, 2, args.join(' '));
    assert.match(stderr, message, args.join(' '));
  }
});

test('--help states each constraint a flag has', async () => {
  const { stdout } = await runBin(['--help']);
  const flat = stdout.replace(/\s+/g, ' ');
  for (const constraint of [/--admin-token[^-]*at least 8 characters/, /--port[^-]*0 to 65535/, /--replay-speed[^-]*above 0/, /--upstream-timeout[^-]*at most 2147483/, /--cassette .{0,300}at most 200 characters/]) {
    assert.match(flat, constraint);
  }
});
