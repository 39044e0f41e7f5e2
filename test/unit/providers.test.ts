/** The provider profiles: which host gets which, each one's error shape, and each one's credentials found by scan and removed by redact. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NewInteraction } from '../../src/cassette/types.js';
import { ProxyError } from '../../src/errors.js';
import { PROFILES, profileForHost, profileNamed } from '../../src/providers/registry.js';
import { findLeaks } from '../../src/redact/leaks.js';
import { Redactor } from '../../src/redact/redactor.js';

test('the profile is inferred from the upstream host; any other host speaks OpenAI', () => {
  const cases: [string, string][] = [
    ['https://api.openai.com', 'openai'],
    ['https://openrouter.ai/api', 'openai'],
    ['http://localhost:11434', 'openai'],
    ['https://my-resource.openai.azure.com', 'azure'],
    ['https://my-resource.cognitiveservices.azure.com', 'azure'],
    ['https://api.anthropic.com', 'anthropic'],
    ['https://generativelanguage.googleapis.com', 'gemini'],
    ['https://gateway.example.test', 'openai'],
  ];
  for (const [url, name] of cases) assert.equal(profileForHost(new URL(url)).name, name, url);
  assert.equal(profileNamed('anthropic')?.overloadedStatus, 529);
});

test("each profile shapes the proxy's own errors as its API does, with the kernel's status", () => {
  const miss = new ProxyError('cassette_miss', 'cassette-proxy replay: no recording matches');
  const shapes = Object.fromEntries(PROFILES.map((p) => [p.name, JSON.parse(p.renderError(miss).body) as unknown]));
  assert.deepEqual(shapes.openai, { error: { message: miss.message, type: 'cassette_error', code: 'cassette_miss', param: null } });
  assert.deepEqual(shapes.azure, shapes.openai);
  assert.deepEqual(shapes.anthropic, { type: 'error', error: { type: 'not_found_error', message: miss.message } });
  assert.deepEqual(shapes.gemini, { error: { code: 404, message: miss.message, status: 'NOT_FOUND' } });
  const anthropic = profileNamed('anthropic')!;
  assert.equal(anthropic.renderError(miss).headers['x-should-retry'], 'false');
  assert.equal(JSON.parse(anthropic.renderError(new ProxyError('upstream_unreachable', 'down')).body).error.type, 'api_error');
  assert.equal(anthropic.renderError(new ProxyError('upstream_unreachable', 'down')).headers['x-should-retry'], 'true');
  assert.equal(JSON.parse(profileNamed('gemini')!.renderError(new ProxyError('invalid_cassette_name', 'bad')).body).error.status, 'INVALID_ARGUMENT');
});

function interaction(url: string, headers: Record<string, string[]>): NewInteraction {
  return {
    request: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: 0, host: 'h', url, form: {}, headers, body: '', method: 'POST' },
    response: { proto: 'HTTP/1.1', proto_major: 1, proto_minor: 1, content_length: -1, status: '200 OK', code: 200, duration: '1ms', headers: {}, body: '' },
  };
}

test("every profile's key header and parameter is found by scan (which knows no upstream) and removed by redact", () => {
  const key = 'plain-credential-4242';
  // Where each API takes its key, as its documentation says: not read from the profiles, so that a profile that forgets one fails here.
  const documented: Record<string, { headers: string[]; params: string[] }> = {
    openai: { headers: ['Authorization'], params: [] },
    azure: { headers: ['Api-Key', 'Authorization'], params: [] },
    anthropic: { headers: ['X-Api-Key', 'Authorization'], params: [] },
    gemini: { headers: ['X-Goog-Api-Key'], params: ['key'] },
  };
  assert.deepEqual(Object.keys(documented), PROFILES.map((p) => p.name));
  for (const profile of PROFILES) {
    const { headers, params } = documented[profile.name]!;
    assert.equal(profile.key.header, headers[0]!.toLowerCase(), profile.name);
    const planted = [
      ...headers.map((header) => interaction('https://h/v1/x', { [header]: [`${header === 'Authorization' ? 'Bearer ' : ''}${key}`] })),
      ...params.map((param) => interaction(`https://h/v1/x?${param}=${key}`, {})),
    ];
    for (const one of planted) {
      assert.ok(findLeaks(one).length > 0, `${profile.name}: ${JSON.stringify(one.request.headers)} ${one.request.url}`);
      const redacted = new Redactor().redact(one);
      assert.deepEqual(findLeaks(redacted), [], profile.name);
      assert.doesNotMatch(JSON.stringify(redacted), new RegExp(key), profile.name);
    }
  }
});
