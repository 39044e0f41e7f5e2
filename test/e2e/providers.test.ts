/**
 * Several providers through one proxy, each with its official SDK: OpenAI, an OpenRouter-style
 * upstream, Azure OpenAI (AzureOpenAI), Anthropic (@anthropic-ai/sdk) and Gemini (@google/genai),
 * streamed and not, recorded and then replayed by a new proxy with no upstream contact; a miss in
 * each SDK's own not-found error, after one attempt; and Bedrock's binary event stream.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test, type TestContext } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { ApiError, GoogleGenAI } from '@google/genai';
import OpenAI, { AzureOpenAI } from 'openai';
import type { Config, UpstreamSetting } from '../../src/config.js';
import { startFakeAnthropic } from '../support/fake-anthropic.js';
import { startFakeGemini } from '../support/fake-gemini.js';
import { FakeUpstream } from '../support/fake-upstream.js';
import { parseCassetteYaml, startTestProxy, type TestProxy } from '../support/proxy.js';

async function fakes(t: TestContext) {
  const [openai, openrouter, azure, anthropic, gemini] = await Promise.all([FakeUpstream.start(), FakeUpstream.start(), FakeUpstream.start(), startFakeAnthropic({ spacingMs: 5 }), startFakeGemini({ spacingMs: 5 })]);
  t.after(() => Promise.all([openai, openrouter, azure, anthropic, gemini].map((f) => f.close())));
  const upstreams: UpstreamSetting[] = [
    { name: 'openai', url: new URL(openai.url), prefixed: false },
    { name: 'openrouter', url: new URL(`${openrouter.url}/api`), prefixed: true },
    { name: 'azure', url: new URL(azure.url), prefixed: true, provider: 'azure' },
    { name: 'anthropic', url: new URL(anthropic.url), prefixed: true, provider: 'anthropic' },
    { name: 'gemini', url: new URL(gemini.url), prefixed: true, provider: 'gemini' },
    // Bedrock's binary event stream, through a profile that does not know Bedrock.
    { name: 'bedrock', url: new URL(anthropic.url), prefixed: true },
  ];
  const contacts = () => openai.requests.length + openrouter.requests.length + azure.requests.length + anthropic.requests.length + gemini.requests.length;
  return { upstreams, contacts, fakes: { openai, openrouter, azure, anthropic, gemini } };
}

function clients(proxy: TestProxy) {
  return {
    openai: new OpenAI({ apiKey: 'sk-app', baseURL: `${proxy.url}/v1` }),
    openrouter: new OpenAI({ apiKey: 'or-app', baseURL: `${proxy.url}/openrouter/v1` }),
    azure: new AzureOpenAI({ apiKey: 'azure-app', endpoint: `${proxy.url}/azure`, apiVersion: '2024-10-21', deployment: 'gpt-4o-mini' }),
    anthropic: new Anthropic({ apiKey: 'anthropic-app', baseURL: `${proxy.url}/anthropic` }),
    gemini: new GoogleGenAI({ apiKey: 'gemini-app', httpOptions: { baseUrl: `${proxy.url}/gemini` } }),
  };
}

/** Every SDK, streamed and not; what each got, as plain values to compare. */
async function conversation(proxy: TestProxy, prompt = 'hi') {
  const c = clients(proxy);
  const messages = [{ role: 'user' as const, content: prompt }];
  const chat = async (client: OpenAI) => {
    const whole = await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
    let streamed = '';
    for await (const chunk of await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `echo:${prompt} streamed` }], stream: true })) streamed += chunk.choices[0]?.delta.content ?? '';
    return [whole.choices[0]!.message.content, streamed];
  };
  const claude = await c.anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 64, messages });
  const claudeStream = c.anthropic.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user', content: `${prompt} streamed` }] });
  const claudeFinal = await claudeStream.finalMessage();
  const gem = await c.gemini.models.generateContent({ model: 'gemini-2.5-flash', contents: prompt });
  let gemStreamed = '';
  for await (const chunk of await c.gemini.models.generateContentStream({ model: 'gemini-2.5-flash', contents: `${prompt} streamed` })) gemStreamed += chunk.text ?? '';
  const bedrock = Buffer.from(await (await fetch(`${proxy.url}/bedrock/model/anthropic.claude-3-haiku/invoke-with-response-stream`, { method: 'POST', body: `{"prompt":"${prompt}"}`, headers: { 'content-type': 'application/json' } })).arrayBuffer());
  return {
    openai: await chat(c.openai),
    openrouter: await chat(c.openrouter),
    azure: await chat(c.azure),
    anthropic: [claude.content, claudeFinal.content, claudeFinal.stop_reason],
    gemini: [gem.text, gemStreamed],
    bedrock: bedrock.toString('base64'),
  };
}

test('the official SDKs of five upstreams record through one proxy, then a new proxy replays them all without contacting any', async (t) => {
  const { upstreams, contacts, fakes: f } = await fakes(t);
  const base: Partial<Config> & { upstream: URL } = { upstream: upstreams[0]!.url, upstreams };
  const recorder = await startTestProxy(t, base);
  const recorded = await conversation(recorder);
  assert.deepEqual(recorded.anthropic[0], [{ type: 'text', text: 'Cassettes replay Claude too.' }]);
  assert.deepEqual(recorded.gemini, ['Cassettes replay Gemini too.', 'Cassettes replay Gemini too.']);
  assert.match(recorded.azure[1]!, /hi streamed/);
  // Each went to its own upstream, below its prefix, as its API spells it.
  assert.deepEqual(f.openrouter.requests.map((r) => r.url), ['/api/v1/chat/completions', '/api/v1/chat/completions']);
  assert.match(f.azure.requests[0]!.url, /^\/openai\/deployments\/gpt-4o-mini\/chat\/completions\?api-version=2024-10-21$/);
  assert.equal(f.azure.requests[0]!.headers['api-key'], 'azure-app');
  assert.equal(f.anthropic.requests[0]!.url, '/v1/messages');
  assert.match(f.gemini.requests[1]!.url, /^\/v1beta\/models\/gemini-2\.5-flash:streamGenerateContent\?alt=sse$/);
  await recorder.store.flushAll();
  const cassette = parseCassetteYaml(await readFile(recorder.defaultCassette, 'utf8'));
  assert.equal(cassette.interactions.length, 11);
  const byPath = (re: RegExp) => cassette.interactions.filter((i: any) => re.test(i.request.url));
  // Streams are timed event by event: Anthropic's ten named events, Gemini's four, Bedrock's ten binary messages.
  const offsets = (re: RegExp) => byPath(re).map((i: any) => i.cassette_proxy?.event_offsets_ms?.length);
  assert.deepEqual(offsets(/\/v1\/messages$/), [undefined, 10]);
  assert.deepEqual(offsets(/:streamGenerateContent/), [4]);
  assert.deepEqual(offsets(/invoke-with-response-stream/), [10]);
  assert.ok(byPath(/invoke-with-response-stream/)[0].response.body instanceof Uint8Array, 'a binary body is stored as !!binary');
  for (const i of cassette.interactions) assert.doesNotMatch(JSON.stringify(i.request.headers), /-app"/, 'the app keys are redacted');
  const seen = contacts();
  await recorder.close();

  const replayer = await startTestProxy(t, { ...base, mode: 'replay', cassetteDir: recorder.dir });
  const replayed = await conversation(replayer);
  assert.deepEqual(replayed, recorded);
  assert.equal(contacts(), seen, 'replay contacted an upstream');
});

test("a miss raises each SDK's own not-found error with the proxy's explanation, after one attempt", async (t) => {
  const { upstreams, contacts } = await fakes(t);
  const proxy = await startTestProxy(t, { mode: 'replay', upstream: upstreams[0]!.url, upstreams });
  await proxy.switchTo({ cassette: 'empty' });
  const { writeFile } = await import('node:fs/promises');
  await writeFile(proxy.defaultCassette, '---\nversion: 2\ninteractions: []\n');
  const c = clients(proxy);
  const messages = [{ role: 'user' as const, content: 'never recorded' }];
  const misses: [string, () => Promise<unknown>, (err: unknown) => boolean][] = [
    ['openai', () => c.openai.chat.completions.create({ model: 'gpt-4o-mini', messages }), (e) => e instanceof OpenAI.NotFoundError],
    ['openrouter', () => c.openrouter.chat.completions.create({ model: 'gpt-4o-mini', messages }), (e) => e instanceof OpenAI.NotFoundError],
    ['azure', () => c.azure.chat.completions.create({ model: 'gpt-4o-mini', messages }), (e) => e instanceof OpenAI.NotFoundError],
    ['anthropic', () => c.anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 8, messages }), (e) => e instanceof Anthropic.NotFoundError],
    ['gemini', () => c.gemini.models.generateContent({ model: 'gemini-2.5-flash', contents: 'never recorded' }), (e) => e instanceof ApiError && e.status === 404],
  ];
  for (const [name, call, isNotFound] of misses) {
    const err = await call().then(
      () => assert.fail(`${name}: a miss succeeded`),
      (e: unknown) => e,
    );
    assert.ok(isNotFound(err), `${name}: ${String(err)}`);
    assert.match((err as Error).message, /no recording in .*empty\.yaml matches/, name);
  }
  // One exchange per SDK: none retried its miss (each SDK retries by default).
  const metrics = await (await fetch(`${proxy.url}/_proxy/metrics`)).text();
  for (const [name] of misses) assert.match(metrics, new RegExp(`cassette_proxy_exchanges_total\\{mode="replay",outcome="miss",upstream="${name}"\\} 1\\n`), name);
  assert.equal(contacts(), 0);
});

test('go-vcr cassettes recorded from Anthropic, Gemini, Azure and OpenRouter replay byte for byte through their profiles', async (t) => {
  const { copyFile } = await import('node:fs/promises');
  const { fixture } = await import('../support/paths.js');
  // The real hosts, each profile inferred from its host; replay never contacts them.
  const upstreams: UpstreamSetting[] = [
    { name: 'anthropic', url: new URL('https://api.anthropic.com'), prefixed: true },
    { name: 'gemini', url: new URL('https://generativelanguage.googleapis.com'), prefixed: true },
    { name: 'azure', url: new URL('https://my-resource.openai.azure.com'), prefixed: true },
    { name: 'openrouter', url: new URL('https://openrouter.ai/api'), prefixed: true },
  ];
  const proxy = await startTestProxy(t, { mode: 'replay', upstream: upstreams[0]!.url, upstreams, cassette: 'providers' });
  await copyFile(fixture('govcr-v4-providers.yaml'), proxy.defaultCassette);
  const cassette = parseCassetteYaml(await readFile(proxy.defaultCassette, 'utf8'));
  const paths = ['/anthropic/v1/messages', '/gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse', '/azure/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21', '/openrouter/v1/chat/completions'];
  for (const [i, path] of paths.entries()) {
    const recorded = cassette.interactions[i];
    const res = await fetch(`${proxy.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: recorded.request.body });
    assert.equal(res.status, 200, path);
    assert.equal(await res.text(), recorded.response.body, path);
    assert.equal(res.headers.get('content-type'), recorded.response.headers['Content-Type'][0], path);
  }
  // A miss, in each provider's own error shape.
  const shapes: [string, (body: any) => boolean][] = [
    ['/anthropic/v1/messages', (b) => b.type === 'error' && b.error.type === 'not_found_error'],
    ['/gemini/v1beta/models/gemini-2.0-flash:generateContent', (b) => b.error.code === 404 && b.error.status === 'NOT_FOUND'],
    ['/azure/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21', (b) => b.error.code === 'cassette_miss'],
  ];
  for (const [path, shaped] of shapes) {
    const res = await fetch(`${proxy.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"other":true}' });
    assert.equal(res.status, 404, path);
    const body = await res.json();
    assert.ok(shaped(body), `${path}: ${JSON.stringify(body)}`);
  }
});
