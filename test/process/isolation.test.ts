/** The built bin: an upstream answer HTTP cannot relay ends that exchange, never the process, and a stream in flight finishes. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import OpenAI from 'openai';
import { FakeUpstream } from '../support/fake-upstream.js';
import { tempDir } from '../support/paths.js';
import { readCassetteYaml } from '../support/proxy.js';
import { spawnProxy } from '../support/spawn.js';
import { deferred } from '../support/wait.js';

test('status 000, a control character in the reason, an unsolicited 101: each a 502, the process lives, a stream in flight finishes and is saved', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const temp = await tempDir();
  t.after(temp.remove);
  const proxy = await spawnProxy(t, ['--port', '0', '--upstream', upstream.url, '--cassette-dir', temp.dir]);

  const hold = deferred();
  upstream.holdAfterFirstEvent = hold.promise;
  const client = new OpenAI({ apiKey: 'k', baseURL: `${proxy.url}/v1`, maxRetries: 0 });
  const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'echo:still streaming' }], stream: true });
  const events = stream[Symbol.asyncIterator]();
  await events.next();
  upstream.holdAfterFirstEvent = undefined;

  for (const answer of ['HTTP/1.1 000 OK\r\nContent-Length: 2\r\n\r\nhi', 'HTTP/1.1 200 O\x01K\r\nContent-Length: 2\r\n\r\nhi', 'HTTP/1.1 101 Switching Protocols\r\n\r\n']) {
    const res = await fetch(`${proxy.url}/v1/raw`, { method: 'POST', body: Buffer.from(answer, 'latin1') });
    assert.equal(res.status, 502, JSON.stringify(answer));
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'upstream_invalid_response');
  }

  hold.resolve();
  let text = '';
  for (let next = await events.next(); !next.done; next = await events.next()) text += next.value.choices[0]?.delta?.content ?? '';
  assert.equal(text, 'still streaming');
  assert.equal((await fetch(`${proxy.url}/_proxy/health`)).status, 200);
  assert.equal(proxy.child.exitCode, null, 'the process is still running');
  assert.equal(await proxy.stop(), 0);
  const cassette = await readCassetteYaml(path.join(temp.dir, 'default.yaml'));
  assert.equal(cassette.interactions.length, 1, 'only the stream was saved');
  assert.doesNotMatch(proxy.stderr(), /uncaught|ERR_HTTP_INVALID_STATUS_CODE|ERR_INVALID_CHAR/i);
});
