/**
 * The hook points through a real proxy: a feature registered at a point sees each exchange there
 * and may change it (how fault injection, a normaliser or a provider's quirk will plug in), and
 * redaction, registered last, still has the final word on what is saved.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import type { NewInteraction } from '../../src/cassette/types.js';
import type { Feature } from '../../src/exchange/hooks.js';
import { silentLogger } from '../../src/log.js';
import { FakeUpstream, makeTestKey } from '../support/fake-upstream.js';
import { cassetteWith, startTestProxy } from '../support/proxy.js';

const EMBEDDING = { model: 'text-embedding-3-small', input: 'hello' };

function withResponseHeader(interaction: NewInteraction, name: string, value: string): NewInteraction {
  return { ...interaction, response: { ...interaction.response, headers: { ...interaction.response.headers, [name]: [value] } } };
}

async function embed(baseURL: string, key: string): Promise<Response> {
  return fetch(`${baseURL}/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(EMBEDDING) });
}

test('afterCapture, then beforeSave, see each recorded interaction with its exchange; redaction runs after them', async (t) => {
  const key = makeTestKey();
  const upstream = await FakeUpstream.start({ apiKey: key });
  t.after(() => upstream.close());
  const seen: string[] = [];
  const feature: Feature = {
    afterCapture: (interaction, exchange) => {
      seen.push(`afterCapture ${exchange.upstream.name} ${exchange.mode}`);
      // A hook that copies a credential somewhere: redaction, after it, must still catch it.
      return withResponseHeader(interaction, 'X-Hooked', `after capture, ${key}`);
    },
    beforeSave: (interaction) => {
      seen.push(`beforeSave ${String(interaction.response.headers['X-Hooked']).replace(key, 'the key')}`);
      return withResponseHeader(interaction, 'X-Before-Save', `before save, ${key}`);
    },
  };
  const proxy = await startTestProxy(t, { upstream: new URL(upstream.url) }, silentLogger(), [feature]);
  const res = await embed(proxy.baseURL, key);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-hooked'), null, 'the client gets the upstream answer');
  await res.arrayBuffer();

  const [interaction] = (await cassetteWith(proxy, 1)).interactions;
  assert.deepEqual(seen, ['afterCapture openai record', 'beforeSave after capture, the key']);
  assert.match(String(interaction.response.headers['X-Hooked']), /^after capture, \[REDACTED:hmac-sha256:[0-9a-f]{16}\]$/);
  assert.match(String(interaction.response.headers['X-Before-Save']), /^before save, \[REDACTED:hmac-sha256:[0-9a-f]{16}\]$/);
  assert.ok(!(await readFile(proxy.defaultCassette, 'utf8')).includes(key));
});

test('beforeReplay can replace a recorded answer before it is sent (a fault injected in replay); the cassette is not touched', async (t) => {
  const key = makeTestKey();
  const upstream = await FakeUpstream.start({ apiKey: key });
  t.after(() => upstream.close());
  let fail = false;
  const fault: Feature = {
    beforeReplay: (reply) => {
      if (!fail) return reply;
      const body = JSON.stringify({ error: { message: 'Rate limit reached', type: 'requests', param: null, code: 'rate_limit_exceeded' } });
      const response = { ...reply.interaction.response, code: 429, status: '429 Too Many Requests', body, headers: { 'Content-Type': ['application/json'] } };
      return { ...reply, interaction: { ...reply.interaction, response } };
    },
  };
  const proxy = await startTestProxy(t, { upstream: new URL(upstream.url) }, silentLogger(), [fault]);
  await (await embed(proxy.baseURL, key)).arrayBuffer();
  await cassetteWith(proxy, 1);
  await proxy.switchTo({ mode: 'replay' });

  const replayed = await embed(proxy.baseURL, key);
  assert.equal(replayed.status, 200, 'the hook passes the answer on as it is');
  assert.equal(replayed.headers.get('x-cassette-match'), 'exact');
  await replayed.arrayBuffer();
  fail = true;
  const faulted = await embed(proxy.baseURL, key);
  assert.equal(faulted.status, 429);
  assert.equal(faulted.headers.get('x-cassette-match'), 'exact');
  assert.equal(((await faulted.json()) as { error: { code: string } }).error.code, 'rate_limit_exceeded');
  assert.equal((await cassetteWith(proxy, 1)).interactions[0].response.code, 200);
  assert.equal(upstream.requests.length, 1, 'replay never went upstream');
});

test('beforeRespond can change a forwarded answer before it is relayed (a fault injected in forwarding); the cassette keeps the upstream answer', async (t) => {
  const key = makeTestKey();
  const upstream = await FakeUpstream.start({ apiKey: key });
  t.after(() => upstream.close());
  const fault: Feature = {
    beforeRespond: (answer, exchange) => ({ ...answer, status: 503, reason: 'Injected', headers: [...answer.headers, 'X-Fault', exchange.upstream.name] }),
  };
  const proxy = await startTestProxy(t, { upstream: new URL(upstream.url) }, silentLogger(), [fault]);
  const res = await embed(proxy.baseURL, key);
  assert.equal(res.status, 503);
  assert.equal(res.headers.get('x-fault'), 'openai');
  assert.equal(((await res.json()) as { object: string }).object, 'list', 'the body is still the upstream one');

  const [interaction] = (await cassetteWith(proxy, 1)).interactions;
  assert.equal(interaction.response.code, 200);
  assert.equal(interaction.response.headers['X-Fault'], undefined);
});
