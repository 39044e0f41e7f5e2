/**
 * `npm run bench`: every scenario against a baseline measured in the same run, with the proxy, the
 * fake upstream and the load generator as separate processes. Prints one table (median, spread,
 * ratio, target) and writes bench/results.json.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { cassetteOf, chatInteraction, median, sdkInteraction, supportChatInteraction } from './fixtures.js';
import { freePort, memoryMb, resetPeak, runJson, startJson, startServer, type Server } from './proc.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const js = (name: string): string => path.join(here, `${name}.js`);
const binOf = (checkout: string): string => path.join(path.resolve(checkout), 'dist', 'src', 'cli', 'main.js');
/** BENCH_BIN=<another built checkout>: measures that build's proxy with this harness (the same scenarios, the same load). */
const BIN = binOf(process.env.BENCH_BIN ?? repo);
const REPS = Number(process.env.BENCH_REPS ?? 3);
/** Rounds of the scenarios that load 50,000 interactions or send a 200 MiB body: their spread is small, their cost large. */
const LARGE_REPS = Math.max(1, REPS - 2);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
/** The large request body of the body-large scenario, in MiB (BENCH_BODY_MIB=500 for the figure; the default limit is 512). */
const BODY_MIB = Number(process.env.BENCH_BODY_MIB ?? 200);
/** BENCH_ONLY=sse,replay runs only the scenarios whose names are listed. */
const ONLY = process.env.BENCH_ONLY?.split(',');
const only = (name: string): boolean => !ONLY || ONLY.includes(name);
/**
 * BENCH_VERSUS=<another built checkout>: the record scenario measures that build's proxy too, taking
 * turns with this one, so that a change is compared with the build before it in one run.
 */
const VERSUS = process.env.BENCH_VERSUS;

interface Load {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  total: number;
  perSecond: number[];
}
interface Sse {
  p50: number;
  p99: number;
  first: number;
  events: number;
}

interface Row {
  scenario: string;
  metric: string;
  ours: number[];
  baseline: number[];
  baselineName: string;
  /** How the two compare: `ratio` ours/baseline, `added` ours−baseline. */
  compare: 'ratio' | 'added';
  /** None for a row that only explains another. */
  target?: { op: '<=' | '>='; value: number };
  unit: string;
}

const rows: Row[] = [];
const temps: string[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cassette-bench-'));
  temps.push(dir);
  return dir;
}

/** `sdk`: the headers and bodies the openai SDK sends (sdk.ts), which the upstream answers as the API does. */
const load = (options: { url: string; connections?: number; seconds?: number; distinct: number; amount?: number; sdk?: boolean }) =>
  runJson<Load>([js('load'), JSON.stringify({ connections: 32, seconds: SECONDS, ...options })]);
const sse = (url: string, streams: number, sdk = false) => runJson<Sse>([js('sse-client'), JSON.stringify({ url, streams, sdk })]);
interface Latency {
  count: number;
  p50: number;
  p99: number;
  max: number;
  unexpected: number;
}
type Suite = 'support' | 'sdk';
/** Misses (with `missOf`, the size of a cassette of the `suite`) or health checks, from their own process; unexpected answers stop the bench. */
async function latencies(options: { url: string; connections: number; seconds: number; amount?: number; missOf?: number; suite?: Suite }): Promise<Latency> {
  const result = await runJson<Latency>([js('miss-client'), JSON.stringify(options)]);
  if (result.unexpected > 0) throw new Error(`${options.url}: ${result.unexpected} unexpected answers`);
  return result;
}

/**
 * Health checks back to back on one connection, from their own process, from when this answers
 * until `stop()`: the longest wait is the longest the proxy kept other requests waiting. A check
 * that fails (a stall past the keep-alive timeout resets the connection) is reported, not fatal:
 * it is what is being measured.
 */
async function healthWatch(base: string, what: string): Promise<{ stop(): Promise<Latency> }> {
  const url = `${base}/_proxy/health`;
  const watch = await startJson<Latency>([js('miss-client'), JSON.stringify({ url, connections: 1, seconds: 600, untilStdinEnds: true })], 'POLLING');
  return {
    async stop() {
      const result = await watch.stop();
      if (result.unexpected > 0) process.stderr.write(`${what}: ${result.unexpected} of ${result.count} health checks failed\n`);
      return result;
    },
  };
}

async function proxy(mode: string, upstream: string, dir: string, extra: string[] = [], bin = BIN): Promise<Server> {
  return startServer([bin, '--port', '0', '--mode', mode, '--upstream', upstream, '--cassette-dir', dir, ...extra]);
}

async function repeat<T>(n: number, run: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(await run());
  return out;
}

function row(r: Row): void {
  rows.push(r);
}

/** One second of the same load, discarded: every server is measured warm (JIT compiled, connections open). */
async function warm(url: string, distinct = 1e9, sdk = false): Promise<void> {
  await load({ url, distinct, seconds: 1, sdk });
}

/** Records `count` distinct chat requests through a server, so that a replay has them. */
async function prime(url: string, count: number, sdk = false): Promise<void> {
  const result = await load({ url, distinct: count, amount: count, connections: 8, sdk });
  if (result.errors > 0) throw new Error(`priming ${url}: ${result.errors} errors`);
}

interface Contender<R = Load> {
  name: string;
  start: () => Promise<Server>;
  runs: R[];
}

/**
 * Measures the contenders taking turns: in each run every one is started fresh, measured, and
 * stopped, in an order that rotates from run to run, so that the machine's drift falls on all of
 * them alike. Every one gets the same `measure`.
 */
async function takeTurns<R>(contenders: Contender<R>[], measure: (server: Server, name: string) => Promise<R>, reps = REPS): Promise<void> {
  for (let i = 0; i < reps; i++) {
    for (let j = 0; j < contenders.length; j++) {
      const contender = contenders[(i + j) % contenders.length]!;
      const server = await contender.start();
      try {
        contender.runs.push(await measure(server, contender.name));
      } finally {
        await server.stop();
      }
    }
  }
}

/** Warmed with the load it is then measured with; a run that answers with errors stops the bench. */
function underLoad(url: (base: string) => string, distinct: number, sdk = false) {
  return async (server: Server, name: string): Promise<Load> => {
    await warm(url(server.url), distinct, sdk);
    const result = await load({ url: url(server.url), distinct, sdk });
    if (result.errors > 0) throw new Error(`${name}: ${result.errors} errors under load`);
    return result;
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  const upstream = await startServer([js('upstream')]);
  const chat = (base: string) => `${base}/v1/chat/completions`;
  const sseUrl = (base: string, events = 100, spacing = 5) => `${base}/v1/sse?events=${events}&spacing=${spacing}`;
  const ours = (name: string, mode: string, dir: () => Promise<string>, extra: string[] = [], bin = BIN): Contender => ({
    name,
    start: async () => proxy(mode, mode === 'replay' ? 'http://127.0.0.1:9' : upstream.url, await dir(), extra, bin),
    runs: [],
  });
  const rps = (runs: Load[]) => runs.map((r) => r.rps);
  const p99 = (runs: Load[]) => runs.map((r) => r.p99);
  const bareHttpProxy = <R = Load>(): Contender<R> => ({ name: 'bare http-proxy', start: () => startServer([js('bare-http-proxy'), upstream.url]), runs: [] });

  /**
   * SSE event latency, record mode, 32 streams at once, against the client going to the upstream
   * directly. Bare http-proxy, measured the same way, shows what one hop through Node costs on this
   * machine by itself.
   */
  const sseScenario = async (scenario: string, hopScenario: string, url: (base: string) => string, sdk: boolean, p50Target: number, p99Target?: number): Promise<void> => {
    const direct: Sse[] = [];
    const viaProxy: Sse[] = [];
    const viaBare: Sse[] = [];
    await takeTurns<Sse>(
      [
        { name: 'direct', start: async () => ({ ...upstream, stop: async () => undefined }), runs: direct },
        { name: 'record', start: async () => proxy('record', upstream.url, await tempDir()), runs: viaProxy },
        { ...bareHttpProxy(), runs: viaBare },
      ],
      // Warm-up (twice: JIT and connection pools): a sidecar runs for hours, so steady state is what counts.
      async (server) => {
        await sse(url(server.url), 32, sdk);
        await sse(url(server.url), 32, sdk);
        return sse(url(server.url), 32, sdk);
      },
    );
    const sseRow = (metric: string, pick: (s: Sse) => number, compare: Row['compare'], target: Row['target']) =>
      row({ scenario, metric, ours: viaProxy.map(pick), baseline: direct.map(pick), baselineName: 'direct to upstream', compare, target, unit: 'ms' });
    sseRow('p50 added', (s) => s.p50, 'added', { op: '<=', value: p50Target });
    sseRow('p99 added', (s) => s.p99, 'added', p99Target === undefined ? undefined : { op: '<=', value: p99Target });
    sseRow('first event', (s) => s.first, 'ratio', { op: '<=', value: 2 });
    for (const [metric, pick] of [['bare http-proxy, p50 added', (s: Sse) => s.p50], ['bare http-proxy, p99 added', (s: Sse) => s.p99]] as const) {
      row({ scenario: hopScenario, metric, ours: viaBare.map(pick), baseline: direct.map(pick), baselineName: 'direct to upstream', compare: 'added', unit: 'ms' });
    }
  };

  /** Replay from a cassette of 1,000 interactions recorded first, against bare node:http answering the same body; both get the same 1,000 distinct requests. */
  const replayScenario = async (sdk: boolean): Promise<Load[]> => {
    const replayDir = await tempDir();
    const recorder = await proxy('record', upstream.url, replayDir);
    await prime(chat(recorder.url), 1000, sdk);
    await recorder.stop();
    const bareHttp: Contender = { name: 'bare node:http', start: () => startServer([js('bare-http'), ...(sdk ? ['sdk'] : [])]), runs: [] };
    const player = ours('replay', 'replay', async () => replayDir);
    await takeTurns([bareHttp, player], underLoad(chat, 1000, sdk));
    const scenario = sdk ? 'Replay, 1,000 SDK requests, 32 connections' : 'Replay, 1,000 interactions, 32 connections';
    row({ scenario, metric: 'throughput', ours: rps(player.runs), baseline: rps(bareHttp.runs), baselineName: 'bare node:http', compare: 'ratio', target: { op: '>=', value: sdk ? 0.8 : 0.5 }, unit: 'req/s' });
    row({ scenario, metric: 'p99 latency', ours: p99(player.runs), baseline: p99(bareHttp.runs), baselineName: 'bare node:http', compare: 'ratio', target: { op: '<=', value: 2 }, unit: 'ms' });
    return player.runs;
  };

  /**
   * Misses: the nearest recording of a miss in a cassette of 50,000 interactions of the suite
   * against the same miss in 100, the two proxies taking turns; then 5 clients missing in a loop
   * on the large one while a health check runs, and the proxy's own event-loop delay
   * (prom-client's monitorEventLoopDelay gauge, reset by each scrape).
   */
  const missScenario = async (suite: Suite, what: string): Promise<void> => {
    const sizes = [100, 50_000];
    const servers: Server[] = [];
    for (const size of sizes) {
      const file = await cassetteOf(size, suite === 'sdk' ? sdkInteraction : supportChatInteraction);
      temps.push(path.dirname(file));
      servers.push(await proxy('replay', 'http://127.0.0.1:9', path.dirname(file), ['--cassette', 'bench']));
    }
    const chatOf = (i: number) => chat(servers[i]!.url);
    try {
      // The first miss waits for the cassette to load; then a few thousand warm the proxy up.
      for (const [i, size] of sizes.entries()) {
        await latencies({ url: chatOf(i), connections: 1, seconds: 1, amount: 1, missOf: size, suite });
        await latencies({ url: chatOf(i), connections: 1, seconds: SECONDS, missOf: size, suite });
      }
      const runs: Latency[][] = sizes.map(() => []);
      for (let rep = 0; rep < REPS; rep++) {
        for (let j = 0; j < sizes.length; j++) {
          const i = (rep + j) % sizes.length;
          runs[i]!.push(await latencies({ url: chatOf(i), connections: 1, seconds: 2 * SECONDS, amount: 1000, missOf: sizes[i]!, suite }));
        }
      }
      const [small, large] = runs as [Latency[], Latency[]];
      const missRow = (metric: string, ours: number[], baseline: number[], baselineName: string, target?: Row['target']) =>
        row({ scenario: `Miss, nearest of 50,000 ${what}`, metric, ours, baseline, baselineName, compare: 'ratio', target, unit: 'ms' });
      missRow('p50 latency', large.map((r) => r.p50), small.map((r) => r.p50), 'the same miss in 100');
      missRow('p99 latency', large.map((r) => r.p99), small.map((r) => r.p99), 'the same miss in 100', { op: '<=', value: 2 });
      missRow('p99 latency', large.map((r) => r.p99), [5], 'limit 5 ms', { op: '<=', value: 1 });

      const big = servers[1]!;
      /** The delay's p99 and max (ms) since the last scrape. */
      const lag = async (): Promise<{ p99: number; max: number }> => {
        const text = await (await fetch(`${big.url}/_proxy/metrics`)).text();
        const gauge = (name: string) => Number(new RegExp(`^cassette_proxy_nodejs_eventloop_lag_${name}_seconds (\\S+)$`, 'm').exec(text)?.[1]) * 1000;
        return { p99: gauge('p99'), max: gauge('max') };
      };
      const health = `${big.url}/_proxy/health`;
      const idleHealth: number[] = [];
      const busyHealth: number[] = [];
      const delays: { p99: number; max: number }[] = [];
      for (let rep = 0; rep < REPS; rep++) {
        idleHealth.push((await latencies({ url: health, connections: 1, seconds: SECONDS })).p99);
        await lag();
        const [probe] = await Promise.all([latencies({ url: health, connections: 1, seconds: SECONDS }), latencies({ url: chatOf(1), connections: 5, seconds: SECONDS, missOf: sizes[1]!, suite })]);
        delays.push(await lag());
        busyHealth.push(probe.p99);
      }
      const loopRow = (metric: string, ours: number[], baseline: number[], baselineName: string, target?: Row['target']) =>
        row({ scenario: `5 clients missing on 50,000 ${what}`, metric, ours, baseline, baselineName, compare: 'ratio', target, unit: 'ms' });
      loopRow('event-loop delay p99', delays.map((d) => d.p99), [20], 'limit 20 ms', { op: '<=', value: 1 });
      loopRow('event-loop delay max', delays.map((d) => d.max), [20], 'limit 20 ms');
      loopRow('health check p99', busyHealth, idleHealth, 'health check, no misses');
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  };

  try {
    // 1. SSE event latency, record mode, 32 streams of 100 events 5 ms apart.
    if (only('sse')) await sseScenario('SSE event latency (record, 32×100 events @5 ms)', 'One hop by itself (no target)', (base) => sseUrl(base), false, 1, 1);
    // 1b. The same with streamed chat completions as the SDK asks for them and the API sends them: 124 events 5 ms apart.
    if (only('sse-sdk')) await sseScenario('SSE event latency (record, 32 SDK streams of 124 events @5 ms)', 'One hop by itself, SDK streams (no target)', chat, true, 0.5);

    // 2. Non-streamed throughput and p99, record mode, distinct bodies, 32 connections, against
    // bare http-proxy. The contenders without a target show where the gap to it lies.
    let recordRuns: Load[] = [];
    if (only('record') || only('peers')) {
      const bare = bareHttpProxy();
      const recorded = ours('record', 'record', tempDir);
      const warn = ['--log-level', 'warn'];
      const breakdown = only('record') ? [ours('passthrough, --log-level warn', 'passthrough', tempDir, warn), ours('passthrough', 'passthrough', tempDir), ours('record, --log-level warn', 'record', tempDir, warn)] : [];
      if (VERSUS) breakdown.push(ours(`record, ${path.basename(VERSUS)}'s build`, 'record', tempDir, [], binOf(VERSUS)));
      await takeTurns([bare, recorded, ...breakdown], underLoad(chat, 1e9));
      recordRuns = recorded.runs;
      row({ scenario: 'Record, non-streamed, 32 connections', metric: 'throughput', ours: rps(recordRuns), baseline: rps(bare.runs), baselineName: 'bare http-proxy', compare: 'ratio', target: { op: '>=', value: 0.8 }, unit: 'req/s' });
      row({ scenario: 'Record, non-streamed, 32 connections', metric: 'p99 latency', ours: p99(recordRuns), baseline: p99(bare.runs), baselineName: 'bare http-proxy', compare: 'ratio', target: { op: '<=', value: 2 }, unit: 'ms' });
      for (const contender of breakdown) {
        row({ scenario: 'Where the gap lies (no target)', metric: contender.name, ours: rps(contender.runs), baseline: rps(bare.runs), baselineName: 'bare http-proxy', compare: 'ratio', unit: 'req/s' });
      }
    }
    // 2b. The same with the SDK's headers and bodies, answered with the API's 3 KB completion.
    if (only('record-sdk')) {
      const bare = bareHttpProxy();
      const recorded = ours('record', 'record', tempDir);
      await takeTurns([bare, recorded], underLoad(chat, 1e9, true));
      const scenario = 'Record, SDK requests, 32 connections';
      row({ scenario, metric: 'throughput', ours: rps(recorded.runs), baseline: rps(bare.runs), baselineName: 'bare http-proxy', compare: 'ratio', target: { op: '>=', value: 0.6 }, unit: 'req/s' });
      row({ scenario, metric: 'p99 latency', ours: p99(recorded.runs), baseline: p99(bare.runs), baselineName: 'bare http-proxy', compare: 'ratio', target: { op: '<=', value: 2 }, unit: 'ms' });
    }

    // 3. Ten seconds of continuous recording into one new cassette: no slow-down as it grows. The
    // proxy is warmed on another cassette first, so that the first second is not a cold start.
    if (only('growth')) {
      const p = await proxy('record', upstream.url, await tempDir());
      await warm(chat(p.url));
      const switched = await fetch(`${p.url}/_proxy/mode`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cassette: 'growth' }) });
      if (!switched.ok) throw new Error(`switching the cassette: ${switched.status} ${await switched.text()}`);
      const result = await load({ url: chat(p.url), distinct: 1e9, seconds: 10 });
      await p.stop();
      // autocannon ends with a partial tick: the last whole second is the one before it.
      const seconds = result.perSecond.slice(0, -1);
      row({ scenario: 'Record for 10 s into one cassette', metric: 'last second', ours: [seconds.at(-1)!], baseline: [seconds[0]!], baselineName: 'first second', compare: 'ratio', target: { op: '>=', value: 0.9 }, unit: 'req/s' });
    }

    // 4. Replay throughput and p99 from a cassette of 1,000 interactions; 4b, of 1,000 SDK requests and answers.
    const replayRuns = only('replay') || only('peers') ? await replayScenario(false) : [];
    if (only('replay-sdk')) await replayScenario(true);

    // 5. The peers doing the same work: record (distinct bodies) and replay (1,000 recorded).
    const peerReps = Math.max(1, REPS - 1);
    const peers: { name: string; start: (mode: 'record' | 'replay', dir: string) => Promise<Server> }[] = [
      { name: 'talkback 4.2', start: (mode, dir) => startServer([js('talkback'), upstream.url, dir, mode]) },
      {
        name: 'proxay 1.9',
        start: async (mode, dir) => {
          const port = await freePort();
          return startServer([path.join(repo, 'node_modules', 'proxay', 'dist', 'cli.js'), '--mode', mode, '--tapes-dir', dir, '--port', String(port), ...(mode === 'record' ? ['--host', upstream.url] : [])], { url: `http://127.0.0.1:${port}`, ready: /Proxying in/ });
        },
      },
    ];
    for (const peer of only('peers') ? peers : []) {
      const peerRecord: Contender = { name: peer.name, start: async () => peer.start('record', await tempDir()), runs: [] };
      await takeTurns([peerRecord], underLoad(chat, 1e9), peerReps);
      const dir = await tempDir();
      const recorder = await peer.start('record', dir);
      await prime(chat(recorder.url), 1000);
      await recorder.stop();
      const server = await peer.start('replay', dir);
      await warm(chat(server.url), 1000);
      const peerReplay = await repeat(peerReps, () => load({ url: chat(server.url), distinct: 1000 }));
      await server.stop();
      row({ scenario: `Record vs ${peer.name}`, metric: 'throughput', ours: rps(recordRuns), baseline: rps(peerRecord.runs), baselineName: peer.name, compare: 'ratio', target: { op: '>=', value: 20 }, unit: 'req/s' });
      row({ scenario: `Replay vs ${peer.name}`, metric: 'throughput', ours: rps(replayRuns), baseline: rps(peerReplay), baselineName: peer.name, compare: 'ratio', target: { op: '>=', value: 20 }, unit: 'req/s' });
    }

    // 6. Cost of saving one interaction as the cassette grows.
    if (only('save')) {
      const saves = await repeat(REPS, () => runJson<Record<string, number>>([js('save-cost')]));
      for (const size of ['1000', '10000']) {
        row({ scenario: 'Save one interaction (durable)', metric: `into ${Number(size).toLocaleString('en')}`, ours: saves.map((s) => s[size]!), baseline: saves.map((s) => s['100']!), baselineName: 'into 100', compare: 'ratio', target: { op: '<=', value: 2 }, unit: 'ms' });
      }
    }

    // 7. Loading a cassette of 10,000 interactions for replay.
    if (only('load')) {
      const loads = await repeat(REPS, () => runJson<{ ours: number; jsYaml: number }>([js('load-cassette')]));
      row({ scenario: 'Load a 10,000-interaction cassette', metric: 'read, check, index', ours: loads.map((l) => l.ours), baseline: loads.map((l) => l.jsYaml), baselineName: 'js-yaml parse', compare: 'ratio', target: { op: '<=', value: 1.5 }, unit: 'ms' });
    }

    // 7b. Loading a cassette of 50,000 interactions in a proxy, on the first replay request, while
    // health checks run back to back: the time to that first answer against js-yaml's parse of the
    // same file in a fresh process, the longest health check, and the memory the proxy holds after
    // it (after a full collection, made by gc-hook.ts) and at its peak, over what it held idle. The
    // request names the cassette with x-cassette: replay modes load the default cassette at start.
    if (only('load-large')) {
      const count = 50_000;
      const file = await cassetteOf(count, chatInteraction);
      temps.push(path.dirname(file));
      const fileMb = (await stat(file)).size / 2 ** 20;
      const gcFile = path.join(await tempDir(), 'rss');
      const args = ['--expose-gc', '--import', pathToFileURL(js('gc-hook')).href, BIN, '--port', '0', '--mode', 'replay', '--upstream', 'http://127.0.0.1:9', '--cassette-dir', path.dirname(file), '--cassette', 'none'];
      /** Resident memory and live heap (MB) after a full collection. */
      const heldMb = async (p: Server): Promise<{ rss: number; live: number }> => {
        await rm(gcFile, { force: true });
        p.child.kill('SIGUSR2');
        for (let wait = 0; wait < 200; wait++) {
          const text = await readFile(gcFile, 'utf8').catch(() => undefined);
          if (text !== undefined) {
            const { rss, live } = JSON.parse(text) as { rss: number; live: number };
            return { rss: rss / 2 ** 20, live: live / 2 ** 20 };
          }
          await sleep(50);
        }
        throw new Error('the proxy did not report its memory after a collection within 10 s');
      };
      const parse: number[] = [];
      const firstAnswer: number[] = [];
      const longest: number[] = [];
      const held: number[] = [];
      const live: number[] = [];
      const peak: number[] = [];
      for (let i = 0; i < LARGE_REPS; i++) {
        parse.push((await runJson<{ ms: number }>([js('js-yaml-parse'), file])).ms);
        const p = await startServer(args, { env: { BENCH_GC_FILE: gcFile } });
        try {
          const idle = await heldMb(p);
          await resetPeak(p.child.pid!);
          const watch = await healthWatch(p.url, 'loading a 50,000-interaction cassette');
          const sent = performance.now();
          const res = await fetch(chat(p.url), { method: 'POST', headers: { 'content-type': 'application/json', 'x-cassette': 'bench' }, body: chatInteraction(0).request.body });
          await res.arrayBuffer();
          if (res.status !== 200) throw new Error(`the first replay request answered ${res.status}`);
          firstAnswer.push(performance.now() - sent);
          longest.push((await watch.stop()).max);
          peak.push((await memoryMb(p.child.pid!)).peak - idle.rss);
          const after = await heldMb(p);
          held.push(after.rss - idle.rss);
          live.push(after.live - idle.live);
        } finally {
          await p.stop();
        }
      }
      const scenario = `Load a 50,000-interaction cassette (${fileMb.toFixed(0)} MiB) in a proxy`;
      row({ scenario, metric: 'first replay answer', ours: firstAnswer, baseline: parse, baselineName: 'js-yaml parse', compare: 'ratio', target: { op: '<=', value: 1 }, unit: 'ms' });
      row({ scenario, metric: 'longest health check', ours: longest, baseline: [100], baselineName: 'limit 100 ms', compare: 'ratio', target: { op: '<=', value: 1 }, unit: 'ms' });
      row({ scenario, metric: 'memory held after it', ours: held, baseline: [fileMb], baselineName: 'file size', compare: 'ratio', target: { op: '<=', value: 5 }, unit: 'MB' });
      row({ scenario, metric: 'live heap after it', ours: live, baseline: [fileMb], baselineName: 'file size', compare: 'ratio', unit: 'MB' });
      row({ scenario, metric: 'peak memory growth', ours: peak, baseline: [fileMb], baselineName: 'file size', compare: 'ratio', unit: 'MB' });
    }

    // 8. Memory: idle, and under 200 concurrent streams in record mode.
    if (only('memory')) {
      const idle: number[] = [];
      const underLoad: number[] = [];
      const bareUnderLoad: number[] = [];
      for (let i = 0; i < Math.max(1, REPS - 1); i++) {
        const p = await proxy('record', upstream.url, await tempDir());
        await sleep(1000);
        idle.push((await memoryMb(p.child.pid!)).rss);
        await resetPeak(p.child.pid!);
        await sse(sseUrl(p.url), 200);
        underLoad.push((await memoryMb(p.child.pid!)).peak);
        await p.stop();
        const b = await startServer([js('bare-http-proxy'), upstream.url]);
        await sleep(1000);
        await resetPeak(b.child.pid!);
        await sse(sseUrl(b.url), 200);
        bareUnderLoad.push((await memoryMb(b.child.pid!)).peak);
        await b.stop();
      }
      row({ scenario: 'Memory, idle', metric: 'resident', ours: idle, baseline: [60], baselineName: 'limit 60 MB', compare: 'ratio', target: { op: '<=', value: 1 }, unit: 'MB' });
      row({ scenario: 'Memory, 200 streams in record mode', metric: 'peak resident', ours: underLoad, baseline: bareUnderLoad, baselineName: 'bare http-proxy', compare: 'ratio', target: { op: '<=', value: 1.25 }, unit: 'MB' });
    }

    // 9. Recording one 100 MB response.
    if (only('big')) {
      const growth: number[] = [];
      for (let i = 0; i < Math.max(1, REPS - 1); i++) {
        const p = await proxy('record', upstream.url, await tempDir());
        await sleep(500);
        const before = (await memoryMb(p.child.pid!)).rss;
        await resetPeak(p.child.pid!);
        const res = await fetch(`${p.url}/v1/big?mb=100`);
        for await (const _ of res.body!) void _;
        for (let wait = 0; wait < 600; wait++) {
          const summary = (await (await fetch(`${p.url}/_proxy/cassettes`)).json()) as { cassettes: { interactions_on_disk: number }[] };
          if (summary.cassettes[0]?.interactions_on_disk === 1) break;
          await sleep(100);
        }
        growth.push((await memoryMb(p.child.pid!)).peak - before);
        await p.stop();
      }
      row({ scenario: 'Record one 100 MB response', metric: 'memory growth', ours: growth, baseline: [100], baselineName: 'body size', compare: 'ratio', target: { op: '<=', value: 2.5 }, unit: 'MB' });
    }

    // 9b. Replaying one large JSON request body (a miss, on a cassette of 100 SDK requests, loaded
    // first) while health checks run back to back: the peak memory growth, and the longest health check.
    if (only('body-large')) {
      const file = await cassetteOf(100, sdkInteraction);
      temps.push(path.dirname(file));
      const growth: number[] = [];
      const longest: number[] = [];
      for (let i = 0; i < LARGE_REPS; i++) {
        const p = await proxy('replay', 'http://127.0.0.1:9', path.dirname(file), ['--cassette', 'bench']);
        try {
          await latencies({ url: chat(p.url), connections: 1, seconds: 10, amount: 1, missOf: 100, suite: 'sdk' });
          const before = (await memoryMb(p.child.pid!)).rss;
          await resetPeak(p.child.pid!);
          const watch = await healthWatch(p.url, `replaying a ${BODY_MIB} MiB body`);
          const answer = await runJson<{ status: number; ms: number }>([js('big-body-client'), JSON.stringify({ url: chat(p.url), mib: BODY_MIB })]);
          longest.push((await watch.stop()).max);
          if (answer.status !== 404) throw new Error(`the ${BODY_MIB} MiB request answered ${answer.status}, not the miss expected`);
          growth.push((await memoryMb(p.child.pid!)).peak - before);
        } finally {
          await p.stop();
        }
      }
      const scenario = `Replay one ${BODY_MIB} MiB request body`;
      row({ scenario, metric: 'peak memory growth', ours: growth, baseline: [BODY_MIB], baselineName: 'body size', compare: 'ratio', target: { op: '<=', value: 1.5 }, unit: 'MB' });
      row({ scenario, metric: 'longest health check', ours: longest, baseline: [100], baselineName: 'limit 100 ms', compare: 'ratio', target: { op: '<=', value: 1 }, unit: 'ms' });
    }

    // 10. Misses on 50,000 interactions of the realistic chat suite; 10b, of SDK requests.
    if (only('miss')) await missScenario('support', 'interactions');
    if (only('miss-sdk')) await missScenario('sdk', 'SDK requests');

    // 11. Redacting a request whose body holds `max_tokens` and the word "monkey", against the same
    // request without them (the prompt says "parrot": no word that holds key, token, secret or passw).
    if (only('redact')) {
      const costs = await repeat(REPS, () => runJson<{ requestWith: number; requestWithout: number; interactionWith: number; interactionWithout: number }>([js('redact-cost')]));
      const scenario = 'Redact an SDK request with max_tokens and "monkey"';
      row({ scenario, metric: 'replay: the request', ours: costs.map((c) => c.requestWith), baseline: costs.map((c) => c.requestWithout), baselineName: 'without those words', compare: 'ratio', target: { op: '<=', value: 1.2 }, unit: 'µs' });
      row({ scenario, metric: 'record: the exchange', ours: costs.map((c) => c.interactionWith), baseline: costs.map((c) => c.interactionWithout), baselineName: 'without those words', compare: 'ratio', target: { op: '<=', value: 1.2 }, unit: 'µs' });
    }

    // 12. Start-up, from starting the process to its listening line, against bare node:http started
    // the same way, taking turns.
    if (only('startup')) {
      const dir = await tempDir();
      const bare = { args: [js('bare-http')], runs: [] as number[] };
      const replay = { args: [BIN, '--port', '0', '--mode', 'replay', '--upstream', 'http://127.0.0.1:9', '--cassette-dir', dir], runs: [] as number[] };
      const record = { args: [BIN, '--port', '0', '--mode', 'record', '--upstream', upstream.url, '--cassette-dir', dir], runs: [] as number[] };
      const contenders = [bare, replay, record];
      for (let i = 0; i < 2 * REPS + 1; i++) {
        for (let j = 0; j < contenders.length; j++) {
          const contender = contenders[(i + j) % contenders.length]!;
          const sent = performance.now();
          const server = await startServer(contender.args);
          contender.runs.push(performance.now() - sent);
          await server.stop();
        }
      }
      row({ scenario: 'Start-up to listening', metric: 'replay mode', ours: replay.runs, baseline: bare.runs, baselineName: 'bare node:http', compare: 'ratio', target: { op: '<=', value: 1.5 }, unit: 'ms' });
      row({ scenario: 'Start-up to listening', metric: 'record mode', ours: record.runs, baseline: bare.runs, baselineName: 'bare node:http', compare: 'ratio', unit: 'ms' });
    }
  } finally {
    await upstream.stop();
    await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
  }
  await report(Date.now() - started);
}

function spread(values: number[]): string {
  if (values.length < 2) return '';
  return ` (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`;
}

function fmt(n: number): string {
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2);
}

async function report(elapsedMs: number): Promise<void> {
  const results = rows.map((r) => {
    const ours = median(r.ours);
    const base = median(r.baseline);
    const value = r.compare === 'added' ? ours - base : ours / base;
    const pass = r.target && (r.target.op === '<=' ? value <= r.target.value : value >= r.target.value);
    return { ...r, oursMedian: ours, baselineMedian: base, value, pass };
  });
  const targeted = results.filter((r) => r.target);
  const header = ['scenario', 'metric', 'ours (median, spread)', 'baseline', 'compare', 'target', ''];
  const lines = results.map((r) => [
    r.scenario,
    r.metric,
    `${fmt(r.oursMedian)} ${r.unit}${spread(r.ours)}`,
    `${fmt(r.baselineMedian)} ${r.unit} ${r.baselineName}${spread(r.baseline)}`,
    r.compare === 'added' ? `+${fmt(r.value)} ms` : `${fmt(r.value)}×`,
    r.target ? `${r.target.op} ${r.target.value}${r.compare === 'added' ? ' ms' : '×'}` : '—',
    r.target ? (r.pass ? 'ok' : 'MISS') : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const print = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const machine = `${os.cpus().length} cores, ${os.cpus()[0]?.model.trim()}, Node ${process.version}, ${REPS} runs per figure`;
  const table = [print(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(print)].join('\n');
  process.stdout.write(`\n${machine}\n\n${table}\n\n${targeted.filter((r) => r.pass).length}/${targeted.length} targets met in ${(elapsedMs / 1000).toFixed(0)} s\n`);
  // A partial run (BENCH_ONLY), or one of another build, never replaces the full table that later runs compare against.
  if (ONLY || process.env.BENCH_BIN || VERSUS) return;
  await writeFile(path.join(repo, 'bench', 'results.json'), `${JSON.stringify({ date: new Date().toISOString(), machine, results }, null, 2)}\n`);
}

await main();
