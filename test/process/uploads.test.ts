/**
 * Uploads replay: the official SDK sends audio.transcriptions.create and files.create as
 * multipart bodies with a random boundary. Recorded by one proxy process, they replay from a new
 * one with no upstream contact; a different file misses, and the SDK's error names the part.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { AUDIO_BYTES, FakeUpstream, makeTestKey } from '../support/fake-upstream.js';
import { tempDir } from '../support/paths.js';
import { spawnProxy } from '../support/spawn.js';

const TRAINING = Buffer.from('{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n');
const BATCH = Buffer.from('{"custom_id":"1","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","messages":[]}}\n');

test('transcriptions and file uploads (a file stream and toFile) record, then replay in a new process without the upstream; another file misses naming the part', async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const temp = await tempDir();
  t.after(temp.remove);
  const audioFile = path.join(temp.dir, 'speech.wav');
  const trainingFile = path.join(temp.dir, 'training.jsonl');
  await writeFile(audioFile, AUDIO_BYTES);
  await writeFile(trainingFile, TRAINING);
  const cassettes = path.join(temp.dir, 'cassettes');
  const args = ['--port', '0', '--upstream', upstream.url, '--cassette-dir', cassettes, '--cassette', 'uploads'];
  const key = makeTestKey();
  const client = (url: string): OpenAI => new OpenAI({ apiKey: key, baseURL: `${url}/v1`, maxRetries: 0 });

  // Each call makes its stream or file anew, as a test run would.
  const calls = async (openai: OpenAI): Promise<unknown[]> => [
    await openai.audio.transcriptions.create({ file: createReadStream(audioFile), model: 'whisper-1' }),
    await openai.audio.transcriptions.create({ file: await toFile(AUDIO_BYTES.subarray(0, 1000), 'clip.mp3', { type: 'audio/mpeg' }), model: 'whisper-1', language: 'en' }),
    await openai.files.create({ file: createReadStream(trainingFile), purpose: 'fine-tune' }),
    await openai.files.create({ file: await toFile(BATCH, 'batch.jsonl'), purpose: 'batch' }),
  ];

  const recorder = await spawnProxy(t, args);
  const recorded = await calls(client(recorder.url));
  assert.equal(await recorder.stop(), 0);
  assert.equal(upstream.requests.length, 4);
  // The answers depend on the upload: four different answers were recorded.
  assert.match(JSON.stringify(recorded[0]), /Transcript of speech\.wav: 4096 bytes/);
  assert.equal(new Set(recorded.map((answer) => JSON.stringify(answer))).size, 4);

  const replayer = await spawnProxy(t, [...args, '--mode', 'replay']);
  const openai = client(replayer.url);
  assert.deepEqual(await calls(openai), recorded);
  assert.deepEqual(await calls(openai), recorded);

  const other = Buffer.from(AUDIO_BYTES).reverse();
  const err = await openai.audio.transcriptions.create({ file: await toFile(other, 'speech.wav'), model: 'whisper-1' }).then(
    () => assert.fail('a different file must not replay'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof OpenAI.NotFoundError, String(err));
  assert.equal(err.code, 'cassette_miss');
  assert.match(err.message, /^404 cassette-proxy replay: no recording in \S*uploads\.yaml matches POST \/v1\/audio\/transcriptions\. Nearest is interaction 0 .* differs in 1 field: /);
  const digest = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex').slice(0, 12);
  assert.ok(
    err.message.includes(
      `body.file: recorded file "speech.wav" (application/octet-stream, 4096 bytes, sha256 ${digest(AUDIO_BYTES)}), got file "speech.wav" (application/octet-stream, 4096 bytes, sha256 ${digest(other)})`,
    ),
    err.message,
  );
  assert.equal(upstream.requests.length, 4, 'replay never contacts the upstream');
  assert.equal(await replayer.stop(), 0);
});
