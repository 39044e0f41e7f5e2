/**
 * The command line. A valid one is read without loading yargs (yargs-parser with the same table);
 * these pin that it reads flags exactly as yargs does. --help and the messages for a bad command
 * line (which yargs still gives) are covered by test/process/cli.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError, parseConfig } from '../../src/cli/options.js';

async function withEnv<T>(env: Record<string, string>, run: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  Object.assign(process.env, env);
  try {
    return await run();
  } finally {
    for (const [key, value] of Object.entries(before)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

test('no flags: every default', async () => {
  const config = await parseConfig([]);
  assert.equal(config.mode, 'record');
  assert.equal(config.upstream.href, 'https://api.openai.com/');
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.port, 8080);
  assert.equal(config.cassetteDir, './cassettes');
  assert.equal(config.lockMode, false);
  assert.equal(config.adminToken, undefined);
  assert.deepEqual(config.redactHeaders, []);
});

test('--flag value, --flag=value, camelCase spellings, negated booleans, repeated and comma-separated lists', async () => {
  const config = await parseConfig([
    '--port=0', '--mode', 'replay', '--cassetteDir', '/tmp/c', '--lock-mode', '--no-lock-mode',
    '--redact-header', 'x-a,x-b', '--redact-header', 'x-c', '--match-ignore', 'messages[*].content',
  ]);
  assert.equal(config.port, 0);
  assert.equal(config.mode, 'replay');
  assert.equal(config.cassetteDir, '/tmp/c');
  assert.equal(config.lockMode, false);
  assert.deepEqual(config.redactHeaders, ['x-a', 'x-b', 'x-c']);
  assert.equal(config.matchIgnore.length, 1);
});

test('CASSETTE_PROXY_* variables set flags; the command line wins over them', async () => {
  const config = await withEnv({ CASSETTE_PROXY_PORT: '9', CASSETTE_PROXY_LOCK_MODE: 'true', CASSETTE_PROXY_MATCH_HEADER: 'x-a,x-b', CASSETTE_PROXY_MODE: 'replay' }, () =>
    parseConfig(['--mode', 'passthrough']),
  );
  assert.equal(config.port, 9);
  assert.equal(config.lockMode, true);
  assert.deepEqual(config.matchHeaders, ['x-a', 'x-b']);
  assert.equal(config.mode, 'passthrough');
});

test('anything else goes to yargs and is refused as before: an unknown flag, a positional, an unknown variable', async () => {
  await assert.rejects(parseConfig(['--such-flag']), (err) => err instanceof UsageError && /unknown flag --such-flag/.test(err.message));
  await assert.rejects(parseConfig(['-p', '1']), (err) => err instanceof UsageError && /unknown flag -p/.test(err.message));
  await assert.rejects(parseConfig(['--port', '0', 'extra']), (err) => err instanceof UsageError && /extra/.test(err.message));
  await assert.rejects(parseConfig(['---mode', 'replay']), (err) => err instanceof UsageError && /unknown flag ---mode/.test(err.message));
  // Both spellings of one flag make a list, which a one-value flag refuses.
  await assert.rejects(parseConfig(['--adminToken', 'aaaaaaaa', '--admin-token', 'bbbbbbbb']), UsageError);
  await assert.rejects(
    withEnv({ CASSETTE_PROXY_SUCH: '1' }, () => parseConfig([])),
    (err) => err instanceof UsageError && /unknown variable CASSETTE_PROXY_SUCH/.test(err.message),
  );
});

test('durations are bounded by what a Node timer can wait (a longer one would fire at once)', async () => {
  const ok = await parseConfig(['--upstream-timeout', '2147483']);
  assert.equal(ok.upstreamTimeoutMs, 2147483000);
  for (const flag of ['--upstream-timeout', '--headers-timeout', '--shutdown-grace']) {
    await assert.rejects(parseConfig([flag, '2147484']), (err) => err instanceof UsageError && /at most 2147483/.test(err.message));
  }
});

test('--allowed-host: names and addresses, repeatable and from the environment; a URL or a port is refused', async () => {
  const config = await withEnv({ CASSETTE_PROXY_ALLOWED_HOST: 'cassette-proxy,10.0.0.7' }, () => parseConfig([]));
  assert.deepEqual(config.allowedHosts, ['cassette-proxy', '10.0.0.7']);
  assert.deepEqual((await parseConfig(['--allowed-host', 'a.internal', '--allowed-host', '[fd00::1]'])).allowedHosts, ['a.internal', '[fd00::1]']);
  for (const bad of ['http://a.internal', 'a.internal:8080', 'a b', 'user@host']) {
    await assert.rejects(parseConfig(['--allowed-host', bad]), (e: unknown) => e instanceof UsageError && /--allowed-host/.test(e.message), bad);
  }
});

test('a flag that takes a value refuses to be given none; a negative number is still a value', async () => {
  for (const argv of [['--mode'], ['--mode', '--port', '0'], ['--cassetteDir'], ['--redact-header', '--lock-mode']]) {
    await assert.rejects(parseConfig(argv), (e: unknown) => e instanceof UsageError && /needs a value/.test(e.message), argv.join(' '));
  }
  await assert.rejects(parseConfig(['--port', '-1']), (e: unknown) => e instanceof UsageError && /must be an integer/.test(e.message));
  assert.equal((await parseConfig(['--lock-mode', '--port', '0'])).lockMode, true);
});

test('--on-miss (error or nearest) and --nearest-max-diffs (a whole number of 1 or more), from flags and variables', async () => {
  const defaults = await parseConfig([]);
  assert.deepEqual([defaults.onMiss, defaults.nearestMaxDiffs], ['error', 3]);
  const flags = await parseConfig(['--on-miss', 'nearest', '--nearest-max-diffs', '1']);
  assert.deepEqual([flags.onMiss, flags.nearestMaxDiffs], ['nearest', 1]);
  const env = await withEnv({ CASSETTE_PROXY_ON_MISS: 'nearest', CASSETTE_PROXY_NEAREST_MAX_DIFFS: '12' }, () => parseConfig([]));
  assert.deepEqual([env.onMiss, env.nearestMaxDiffs], ['nearest', 12]);
  await assert.rejects(parseConfig(['--on-miss', 'closest']), (e: unknown) => e instanceof UsageError && /--on-miss .*must be one of error, nearest/.test(e.message));
  for (const bad of ['0', '-1', '1.5', 'three', '', '1e3', '99999999999999999999']) {
    await assert.rejects(parseConfig([`--nearest-max-diffs=${bad}`]), (e: unknown) => e instanceof UsageError && /--nearest-max-diffs .*whole number of 1 or more/.test(e.message), bad);
  }
});

test('--match-normalize: one regex per command-line value (commas kept), the variable split on commas; a bad or empty-matching regex is refused by name', async () => {
  const cli = await withEnv({ CASSETTE_PROXY_MATCH_NORMALIZE: 'ignored' }, () => parseConfig(['--match-normalize', '\\d{1,3}', '--match-normalize=run-\\w+']));
  assert.deepEqual(cli.matchNormalize.map((re) => re.source), ['\\d{1,3}', 'run-\\w+']);
  const env = await withEnv({ CASSETTE_PROXY_MATCH_NORMALIZE: '\\d{4}-\\d{2}-\\d{2}, run-\\w+' }, () => parseConfig([]));
  assert.deepEqual(env.matchNormalize.map((re) => re.source), ['\\d{4}-\\d{2}-\\d{2}', 'run-\\w+']);
  assert.ok(env.matchNormalize.every((re) => re.global));
  await assert.rejects(parseConfig(['--match-normalize', '(']), (err) => err instanceof UsageError && /^--match-normalize \(CASSETTE_PROXY_MATCH_NORMALIZE\): "\(" is not a JavaScript regular expression/.test(err.message));
  await assert.rejects(parseConfig(['--match-normalize', '\\d*']), (err) => err instanceof UsageError && /--match-normalize .*matches the empty string/.test(err.message));
});

test('--match-builtin-ignore defaults to true; --no-match-builtin-ignore, "false" and the variable switch it off', async () => {
  assert.equal((await parseConfig([])).matchBuiltinIgnore, true);
  assert.equal((await parseConfig(['--no-match-builtin-ignore'])).matchBuiltinIgnore, false);
  assert.equal((await parseConfig(['--match-builtin-ignore', 'false'])).matchBuiltinIgnore, false);
  assert.equal((await withEnv({ CASSETTE_PROXY_MATCH_BUILTIN_IGNORE: 'false' }, () => parseConfig([]))).matchBuiltinIgnore, false);
});

test('--redact-key comes from CASSETTE_PROXY_REDACT_KEY too; one shorter than 16 characters is refused without being repeated', async () => {
  assert.equal((await parseConfig([])).redactKey, undefined);
  const key = 'a-team-key-0123456789';
  assert.equal((await withEnv({ CASSETTE_PROXY_REDACT_KEY: key }, () => parseConfig([]))).redactKey, key);
  await assert.rejects(parseConfig(['--redact-key', 'short-key']), (err) => err instanceof UsageError && /--redact-key \(CASSETTE_PROXY_REDACT_KEY\): must be at least 16 characters/.test(err.message) && !err.message.includes('short-key'));
});
