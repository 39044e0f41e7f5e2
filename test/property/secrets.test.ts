/**
 * No credential a client sends is ever written: generated credentials are placed in secret
 * headers (any casing), query parameters, JSON bodies and multipart forms; the upstream echoes
 * everything back; then every byte the proxy wrote is searched.
 */
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { FakeUpstream } from '../support/fake-upstream.js';
import { startTestProxy } from '../support/proxy.js';

const credential = fc.stringMatching(/^[A-Za-z0-9_-]{12,48}$/).filter((s) => !/REDACTED/.test(s));

const randomCase = (name: string) => fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((flips) => [...name].map((c, i) => (flips[i] ? c.toUpperCase() : c.toLowerCase())).join(''));

type Placement =
  | { kind: 'header'; name: string; value: (secret: string) => string }
  | { kind: 'query'; name: string }
  | { kind: 'json'; path: string[] }
  | { kind: 'multipart'; name: string }
  | { kind: 'urlencoded'; name: string };

const placement: fc.Arbitrary<Placement> = fc.oneof(
  fc.constantFrom(
    ['authorization', (s: string) => `Bearer ${s}`],
    ['proxy-authorization', (s: string) => `Basic ${s}`],
    ['api-key', (s: string) => s],
    ['x-api-key', (s: string) => s],
    ['openai-organization', (s: string) => `org-${s}`],
    ['openai-project', (s: string) => `proj_${s}`],
    ['cookie', (s: string) => `session=${s}; theme=dark`],
    ['x-team-secret', (s: string) => s],
  ).chain(([name, value]) => randomCase(name as string).map((cased): Placement => ({ kind: 'header', name: cased, value: value as (s: string) => string }))),
  fc.constantFrom('api-key', 'key', 'access_token', 'api_key', 'token').map((name): Placement => ({ kind: 'query', name })),
  fc.tuple(fc.constantFrom('api_key', 'apiKey', 'access_token', 'password', 'client_secret'), fc.array(fc.constantFrom('auth', 'config', 'provider'), { maxLength: 2 })).map(([key, parents]): Placement => ({ kind: 'json', path: [...parents, key] })),
  fc.constantFrom('api_key', 'password', 'access_token').map((name): Placement => ({ kind: 'multipart', name })),
  fc.constantFrom('client_secret', 'password', 'api_key', 'key').map((name): Placement => ({ kind: 'urlencoded', name })),
);

function requestFor(p: Placement, secret: string): { query: string; headers: Record<string, string>; body: string } {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  let query = '';
  let body = JSON.stringify({ model: 'gpt-4o-mini', input: 'hello' });
  if (p.kind === 'header') headers[p.name] = p.value(secret);
  if (p.kind === 'query') query = `?${p.name}=${encodeURIComponent(secret)}&model=m`;
  if (p.kind === 'json') {
    const doc: Record<string, unknown> = { model: 'gpt-4o-mini' };
    let at = doc;
    for (const key of p.path.slice(0, -1)) at = (at[key] = {}) as Record<string, unknown>;
    at[p.path.at(-1)!] = secret;
    body = JSON.stringify(doc);
  }
  if (p.kind === 'multipart') {
    const boundary = '----cassette-proxy-test-boundary';
    headers['content-type'] = `multipart/form-data; boundary=${boundary}`;
    body = [`--${boundary}`, 'Content-Disposition: form-data; name="model"', '', 'whisper-1', `--${boundary}`, `Content-Disposition: form-data; name="${p.name}"`, '', secret, `--${boundary}--`, ''].join('\r\n');
  }
  if (p.kind === 'urlencoded') {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams({ grant_type: 'client_credentials', [p.name]: `${secret}+/=` }).toString();
  }
  return { query, headers, body };
}

test('no generated credential, wherever the client puts it, reaches any file the proxy writes', { timeout: 120_000 }, async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const proxy = await startTestProxy(t, { upstream: new URL(upstream.url), redactHeaders: ['X-Team-Secret'] });
  let run = 0;
  await fc.assert(
    fc.asyncProperty(credential, placement, async (secret, where) => {
      const cassette = `prop-${run++}`;
      const { query, headers, body } = requestFor(where, secret);
      const res = await fetch(`${proxy.baseURL}/echo${query}`, { method: 'POST', headers: { ...headers, 'x-cassette': cassette }, body });
      assert.equal(res.status, 200);
      assert.ok((await res.text()).includes(secret), 'the upstream got the real credential and echoed it');
      await proxy.store.flushAll();
      const file = path.join(proxy.dir, `${cassette}.yaml`);
      const written = await readFile(file);
      assert.ok(written.length > 0);
      for (const name of await readdir(proxy.dir)) {
        const bytes = await readFile(path.join(proxy.dir, name));
        assert.equal(bytes.indexOf(secret), -1, `${name} holds the credential placed as ${JSON.stringify(where)}`);
        assert.equal(bytes.indexOf(encodeURIComponent(secret)), -1);
      }
    }),
    { numRuns: 60 },
  );
});
