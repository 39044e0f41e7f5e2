/** Starts the proxy in this process on a free loopback port, with a temporary cassette folder. */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { load, CORE_SCHEMA, binaryTag } from 'js-yaml';
import OpenAI from 'openai';
import type { Config } from '../../src/config.js';
import type { Feature } from '../../src/exchange/hooks.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { startProxy, type RunningProxy } from '../../src/server/server.js';
import assert from 'node:assert/strict';
import { tempDir } from './paths.js';
import { eventually } from './wait.js';

export interface TestProxy extends RunningProxy {
  dir: string;
  /** The proxy's OpenAI base URL: `<url>/v1`. */
  baseURL: string;
  client(apiKey: string, options?: { cassette?: string }): OpenAI;
}

/** `log`: where the proxy logs (silent by default); `features`: hooks registered on top of the built-in ones. */
export async function startTestProxy(t: TestContext, overrides: Partial<Config> & { upstream: URL }, log: Logger = silentLogger(), features: readonly Feature[] = []): Promise<TestProxy> {
  const temp = await tempDir();
  const config: Config = {
    mode: 'record',
    upstreams: [],
    host: '127.0.0.1',
    allowedHosts: [],
    port: 0,
    cassetteDir: temp.dir,
    cassette: 'default',
    redactHeaders: [],
    redactBodyFields: [],
    redactKey: undefined,
    logLevel: 'silent',
    replayPolicy: 'repeat',
    replayLatency: 'none',
    replaySpeed: 1,
    onMiss: 'error',
    nearestMaxDiffs: 3,
    matchIgnore: [],
    matchHeaders: [],
    matchNormalize: [],
    matchBuiltinIgnore: true,
    maxBody: 64 * 1024 * 1024,
    lockMode: false,
    adminToken: undefined,
    shutdownGraceMs: 0,
    upstreamTimeoutMs: 30_000,
    headersTimeoutMs: 30_000,
    wsAudio: 'full',
    wsIdleTimeoutMs: 30_000,
    faults: undefined,
    replayRetryAfter: undefined,
    ...overrides,
  };
  const proxy = await startProxy(config, log, undefined, features);
  t.after(async () => {
    await proxy.close();
    await temp.remove();
  });
  const baseURL = `${proxy.url}/v1`;
  // Assigned onto the proxy itself, so its getters (the current default cassette) stay live.
  return Object.assign(proxy, {
    dir: temp.dir,
    baseURL,
    client: (apiKey: string, options: { cassette?: string } = {}) =>
      new OpenAI({
        apiKey,
        baseURL,
        maxRetries: 0,
        defaultHeaders: options.cassette ? { 'x-cassette': options.cassette } : {},
      }),
  });
}

/** Reads a cassette with plain js-yaml, as any other tool would. */
export async function readCassetteYaml(file: string): Promise<any> {
  return parseCassetteYaml(await readFile(file, 'utf8'));
}

/** A cassette's text read by plain js-yaml (not our loader), with the !!binary tag. */
export function parseCassetteYaml(text: string): any {
  return load(text, { schema: CORE_SCHEMA.withTags(binaryTag) });
}

/** The cassette once it holds `count` interactions: saves are asynchronous, so this flushes and waits. */
export async function cassetteWith(proxy: RunningProxy, count: number, file = proxy.defaultCassette, timeoutMs?: number): Promise<any> {
  return eventually(async () => {
    await proxy.store.flushAll();
    const cassette = await readCassetteYaml(file);
    assert.equal(cassette.interactions.length, count);
    return cassette;
  }, timeoutMs);
}

/** Every file under a folder, recursively, with its bytes. */
export async function allFiles(dir: string): Promise<{ file: string; bytes: Buffer }[]> {
  const out: { file: string; bytes: Buffer }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath ?? entry.path, entry.name);
    out.push({ file, bytes: await readFile(file) });
  }
  return out;
}
