import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError, parseConfig } from '../../src/cli/options.js';

const refused = (argv: string[], pattern: RegExp) => assert.rejects(parseConfig(argv), (err) => err instanceof UsageError && pattern.test(err.message));

test('a plain --upstream is the default upstream, named after its provider, reached without a prefix', async () => {
  const config = await parseConfig(['--upstream', 'http://127.0.0.1:9000/base']);
  assert.equal(config.upstream.href, 'http://127.0.0.1:9000/base');
  assert.deepEqual(
    config.upstreams.map((u) => [u.name, u.url.href, u.prefixed]),
    [['openai', 'http://127.0.0.1:9000/base', false]],
  );
  const defaults = await parseConfig([]);
  assert.deepEqual(defaults.upstreams.map((u) => [u.name, u.url.href]), [['openai', 'https://api.openai.com/']]);
});

test('NAME=URL adds named upstreams; without a plain URL the first named one is the default', async () => {
  const config = await parseConfig(['--upstream', 'or=https://openrouter.ai/api', '--upstream', 'claude=https://api.anthropic.com']);
  assert.equal(config.upstream.href, 'https://openrouter.ai/api');
  assert.deepEqual(
    config.upstreams.map((u) => [u.name, u.prefixed]),
    [
      ['or', true],
      ['claude', true],
    ],
  );
  const mixed = await parseConfig(['--upstream', 'https://example.test', '--upstream', 'local=http://localhost:11434', '--provider', 'local=openai']);
  assert.deepEqual(
    mixed.upstreams.map((u) => [u.name, u.prefixed, u.provider]),
    [
      ['openai', false, undefined],
      ['local', true, 'openai'],
    ],
  );
});

test('CASSETTE_PROXY_UPSTREAM gives several upstreams as a comma list', async (t) => {
  process.env.CASSETTE_PROXY_UPSTREAM = 'https://api.openai.com,gem=https://generativelanguage.googleapis.com';
  t.after(() => delete process.env.CASSETTE_PROXY_UPSTREAM);
  const config = await parseConfig([]);
  assert.deepEqual(config.upstreams.map((u) => u.name), ['openai', 'gem']);
});

test('upstream names that would collide with a path, the admin API or each other are refused at start', async () => {
  await refused(['--upstream', '_proxy=http://a.test'], /--upstream \(CASSETTE_PROXY_UPSTREAM\): the upstream name "_proxy" must be/);
  await refused(['--upstream', 'v1=http://a.test'], /"v1" looks like an API version/);
  await refused(['--upstream', 'v1beta=http://a.test'], /"v1beta" looks like an API version/);
  await refused(['--upstream', 'Big=http://a.test'], /must be 1 to 40 lower-case letters/);
  await refused(['--upstream', '=http://a.test'], /must be 1 to 40/);
  await refused(['--upstream', 'a=http://a.test', '--upstream', 'a=http://b.test'], /names two upstreams "a"/);
  await refused(['--upstream', 'http://a.test', '--upstream', 'http://b.test'], /two plain URLs/);
  // The plain URL is named after its provider: another upstream of that name would be ambiguous.
  await refused(['--upstream', 'https://api.openai.com', '--upstream', 'openai=https://openrouter.ai/api'], /named after its provider "openai"/);
  await refused(['--upstream', 'a=ftp://a.test'], /must start with http/);
});

test('--provider and --upstream-key name an upstream --upstream gives, a provider that exists and a variable that is set', async (t) => {
  await refused(['--upstream', 'a=http://a.test', '--provider', 'b=openai'], /--provider \(CASSETTE_PROXY_PROVIDER\): names the upstream "b"/);
  await refused(['--provider', 'bedrock'], /"bedrock" is not a provider; give one of openai/);
  await refused(['--upstream-key', 'openai=NOT SET'], /is not an environment variable name/);
  delete process.env.PROVIDERS_TEST_MISSING_KEY;
  await refused(['--upstream-key', 'openai=PROVIDERS_TEST_MISSING_KEY'], /environment variable PROVIDERS_TEST_MISSING_KEY \(the key for the upstream openai\) is not set/);
  // A replay needs no key: the same command line starts in CI without the secret.
  const replay = await parseConfig(['--mode', 'replay', '--upstream-key', 'openai=PROVIDERS_TEST_MISSING_KEY']);
  assert.equal(replay.upstreams[0]!.keyVariable, 'PROVIDERS_TEST_MISSING_KEY');
  process.env.PROVIDERS_TEST_KEY = 'secret-value-never-shown';
  t.after(() => delete process.env.PROVIDERS_TEST_KEY);
  const config = await parseConfig(['--upstream', 'http://a.test', '--upstream-key', 'PROVIDERS_TEST_KEY']);
  assert.equal(config.upstreams[0]!.keyVariable, 'PROVIDERS_TEST_KEY');
  assert.doesNotMatch(JSON.stringify(config), /secret-value-never-shown/);
});
