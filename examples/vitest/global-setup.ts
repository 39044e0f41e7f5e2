/**
 * One cassette-proxy for the whole run. Locally (`npm test`) requests not yet in cassettes/chat.yaml
 * are recorded from OpenAI; in CI (`CI=true npm test`) every answer is replayed and nothing leaves
 * the machine. Tests get the proxy's address through `inject('proxyUrl')`.
 */
import type { TestProject } from 'vitest/node';
import { startProxy } from 'cassette-proxy';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const proxy = await startProxy({
    mode: process.env.CI ? 'replay' : 'replay-or-record',
    cassetteDir: 'cassettes',
    cassette: 'chat',
    port: 0,
    logLevel: 'warn',
    upstream: process.env.OPENAI_UPSTREAM ?? 'https://api.openai.com',
  });
  project.provide('proxyUrl', proxy.url);
  return () => proxy.close();
}

declare module 'vitest' {
  export interface ProvidedContext {
    proxyUrl: string;
  }
}
