import OpenAI from 'openai';
import { expect, inject, test } from 'vitest';

// In replay the key is never checked: recordings hold no credential.
const client = new OpenAI({ baseURL: `${inject('proxyUrl')}/v1`, apiKey: process.env.OPENAI_API_KEY ?? 'replay-needs-no-key', maxRetries: 0 });

test('answers a question', async () => {
  const completion = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Say hello in one word.' }],
  });
  expect(completion.choices[0]?.message.content).toBeTruthy();
});

test('streams an answer', async () => {
  const stream = await client.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'echo: one two three' }],
    stream: true,
  });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
  expect(text.length).toBeGreaterThan(0);
});
