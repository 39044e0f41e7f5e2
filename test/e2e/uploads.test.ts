/**
 * Uploads under `--on-miss nearest`: a transcription whose file differs from the recording's is
 * one field away (the `file` part), so the nearest recording answers it and says so.
 */
import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { toFile } from 'openai';
import { AUDIO_BYTES, FakeUpstream, makeTestKey } from '../support/fake-upstream.js';
import { cassetteWith, startTestProxy } from '../support/proxy.js';

test('--on-miss nearest answers an upload with another file from the recording of the same form, one field apart', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const key = makeTestKey();
  const recorder = await startTestProxy(t, { upstream: new URL(upstream.url) });
  const recorded = await recorder.client(key).audio.transcriptions.create({ file: await toFile(AUDIO_BYTES, 'speech.wav'), model: 'whisper-1' });
  await cassetteWith(recorder, 1);

  const replayer = await startTestProxy(t, { mode: 'replay', upstream: new URL(upstream.url), onMiss: 'nearest', nearestMaxDiffs: 1 });
  await copyFile(recorder.defaultCassette, path.join(replayer.dir, 'default.yaml'));
  const client = replayer.client(key);
  const other = await toFile(Buffer.from(AUDIO_BYTES).reverse(), 'speech.wav');
  const { data, response } = await client.audio.transcriptions.create({ file: other, model: 'whisper-1' }).withResponse();
  assert.deepEqual(data, recorded);
  assert.equal(response.headers.get('x-cassette-match'), 'nearest; interaction=0; diffs=1');
  // The same file is an exact hit; another file and another model are two fields apart: a miss.
  const exact = await client.audio.transcriptions.create({ file: await toFile(AUDIO_BYTES, 'speech.wav'), model: 'whisper-1' }).withResponse();
  assert.equal(exact.response.headers.get('x-cassette-match'), 'exact');
  await assert.rejects(client.audio.transcriptions.create({ file: other, model: 'gpt-4o-transcribe' }), /differs in 2 fields: body\.file: .*; body\.model: recorded "whisper-1", got "gpt-4o-transcribe"/);
  assert.equal(upstream.requests.length, 1);
});
