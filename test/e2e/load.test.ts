/** Load: 200 concurrent streamed exchanges recorded into one cassette, then 200 concurrent replays. */
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { FakeUpstream } from '../support/fake-upstream.js';
import { cassetteWith, startTestProxy } from '../support/proxy.js';

const COUNT = 200;

function post(agent: http.Agent, url: string, body: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`status ${res.statusCode}: ${Buffer.concat(chunks)}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const requestBody = (i: number) => JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: `echo: request number ${i} says hello` }] });

test(`${COUNT} concurrent streams record into one cassette; ${COUNT} concurrent replays get their own bodies`, { timeout: 60_000 }, async (t) => {
  const upstream = await FakeUpstream.start({ eventSpacingMs: 2 });
  t.after(() => upstream.close());
  const recorder = await startTestProxy(t, { upstream: new URL(upstream.url) });
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  t.after(() => agent.destroy());

  const received = await Promise.all(Array.from({ length: COUNT }, (_, i) => post(agent, `${recorder.baseURL}/chat/completions`, requestBody(i))));
  received.forEach((body, i) => assert.ok(body.toString().includes(`"content":" ${i}"`), `answer ${i} is its own`));

  const cassette = await cassetteWith(recorder, COUNT, recorder.defaultCassette, 20_000);
  assert.deepEqual(
    cassette.interactions.map((i: any) => i.id),
    Array.from({ length: COUNT }, (_, i) => i),
  );
  for (const interaction of cassette.interactions) {
    const n = Number(/request number (\d+)/.exec(interaction.request.body)![1]);
    assert.equal(interaction.response.body, received[n]!.toString(), `interaction for request ${n} holds what its client received`);
  }

  const player = await startTestProxy(t, { mode: 'replay', upstream: new URL('http://127.0.0.1:9'), cassetteDir: recorder.dir });
  const replayed = await Promise.all(Array.from({ length: COUNT }, (_, i) => post(agent, `${player.baseURL}/chat/completions`, requestBody(i))));
  replayed.forEach((body, i) => assert.ok(body.equals(received[i]!), `replay ${i} got its own body`));
});
