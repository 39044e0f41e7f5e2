/**
 * Prometheus metrics (prom-client), one registry per proxy so that several proxies in one process
 * (tests, embedding) never share counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Outcome = 'forwarded' | 'recorded' | 'replayed' | 'miss' | 'error';

/** Upstream latencies from 5 ms to 2 minutes: LLM answers span that whole range. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export class Metrics {
  readonly registry = new Registry();
  readonly exchanges = new Counter({
    name: 'cassette_proxy_exchanges_total',
    help: 'Exchanges by the mode they ran in, how they ended and the upstream they were for',
    labelNames: ['mode', 'outcome', 'upstream'] as const,
    registers: [this.registry],
  });
  readonly upstreamSeconds = new Histogram({
    name: 'cassette_proxy_upstream_duration_seconds',
    help: 'From sending a request upstream until its response ended',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly upstreamFirstByteSeconds = new Histogram({
    name: 'cassette_proxy_upstream_ttfb_seconds',
    help: 'From sending a request upstream until its response headers arrived',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly openStreams = new Gauge({
    name: 'cassette_proxy_open_streams',
    help: 'text/event-stream responses being sent to clients right now',
    registers: [this.registry],
  });
  readonly openSessions = new Gauge({
    name: 'cassette_proxy_open_websocket_sessions',
    help: 'WebSocket sessions open right now (relayed or replayed)',
    registers: [this.registry],
  });
  readonly frames = new Counter({
    name: 'cassette_proxy_websocket_frames_total',
    help: 'WebSocket frames of finished sessions, by the side that sent them (client or server)',
    labelNames: ['from'] as const,
    registers: [this.registry],
  });
  readonly refused = new Counter({
    name: 'cassette_proxy_refused_requests_total',
    help: 'Requests refused before routing because a web page may have made them (code host_not_allowed or origin_not_allowed)',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly nearestAnswers = new Counter({
    name: 'cassette_proxy_nearest_answers_total',
    help: 'Replay misses answered with their nearest recording (--on-miss nearest)',
    registers: [this.registry],
  });
  readonly saves = new Counter({
    name: 'cassette_proxy_cassette_saves_total',
    help: 'Cassette files written',
    registers: [this.registry],
  });
  readonly saveFailures = new Counter({
    name: 'cassette_proxy_cassette_save_failures_total',
    help: 'Cassette writes that failed (the interactions stay in memory for the next save)',
    registers: [this.registry],
  });
  readonly leaseConflicts = new Counter({
    name: 'cassette_proxy_cassette_lease_conflicts_total',
    help: 'Exchanges refused because another process records into their cassette (refused), and cassette leases taken over by another process (lost)',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });
  readonly faultsInjected = new Counter({
    name: 'cassette_proxy_faults_injected_total',
    help: 'Faults injected into answers (x-cassette-fault, /_proxy/faults, --faults), by fault',
    labelNames: ['fault'] as const,
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'cassette_proxy_' });
  }

  private readonly exchangeCounters = new Map<string, { inc(): void }>();

  /** Counts one exchange; the labelled child is looked up once per label set, not hashed per call. */
  countExchange(mode: string, outcome: Outcome, upstream: string): void {
    const key = `${mode} ${outcome} ${upstream}`;
    let counter = this.exchangeCounters.get(key);
    if (!counter) {
      counter = this.exchanges.labels(mode, outcome, upstream);
      this.exchangeCounters.set(key, counter);
    }
    counter.inc();
  }

  /** Counts an SSE response as open until the returned function is called (once). */
  streamOpened(): () => void {
    this.openStreams.inc();
    let open = true;
    return () => {
      if (open) this.openStreams.dec();
      open = false;
    };
  }
}
