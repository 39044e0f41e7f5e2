/**
 * What an exchange goes through, as its mode's policy says: a recording first (replay modes), then
 * the upstream (forwarding modes, after a miss in replay-or-record), recording what came back
 * (record modes). Each stage is its own module; this only orders them.
 */
import type { Config } from '../config.js';
import { ProxyError } from '../errors.js';
import type { Exchange } from '../exchange/exchange.js';
import type { Hooks, Reply } from '../exchange/hooks.js';
import type { Forwarder } from '../forward/forwarder.js';
import type { Metrics } from '../metrics.js';
import { MODE_POLICY } from '../mode.js';
import { bodyTooLarge, readBodyForMatching } from '../read-body.js';
import type { Recorder } from '../record/recorder.js';
import type { Replayer } from '../replay/replayer.js';
import { sendRecorded, type ReplaySettings } from '../replay/responder.js';

export type PipelineConfig = Pick<Config, 'maxBody' | 'onMiss' | 'nearestMaxDiffs' | 'replayLatency' | 'replaySpeed'>;

export class Pipeline {
  private readonly replaySettings: ReplaySettings;

  constructor(
    private readonly config: PipelineConfig,
    private readonly replayer: Replayer,
    private readonly forwarder: Forwarder,
    private readonly recorder: Recorder,
    private readonly hooks: Hooks,
    private readonly metrics: Metrics,
  ) {
    this.replaySettings = { pacing: { latency: config.replayLatency, speed: config.replaySpeed }, onStream: () => metrics.streamOpened() };
  }

  /** Answers the exchange; rejects with the ProxyError its client is to get. */
  async run(exchange: Exchange): Promise<void> {
    this.hooks.onArrival?.(exchange);
    const { req } = exchange;
    const { maxBody } = this.config;
    const policy = MODE_POLICY[exchange.mode];
    const declared = Number(req.headers['content-length']);
    if (declared > maxBody) throw bodyTooLarge(maxBody);
    if (!policy.replay) return this.forward(exchange, policy.record);

    // A large body is digested as it arrives; its chunks are kept only when a miss may forward it.
    const body = await readBodyForMatching(req, maxBody, { keep: policy.forward });
    const request = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body };
    let found;
    try {
      found = await this.replayer.find(request, exchange.file, exchange.upstream);
    } catch (err) {
      // A cassette that does not exist yet is simply empty when misses may be recorded.
      if (!(policy.forward && err instanceof ProxyError && err.code === 'cassette_not_found')) throw err;
    }
    // A recorded WebSocket session answers only a WebSocket upgrade (server/websocket.ts).
    if (found?.kind === 'hit' && found.interaction.cassette_proxy?.websocket) {
      exchange.outcome = 'miss';
      throw new ProxyError('cassette_miss', `cassette-proxy replay: the recording that matches ${req.method} ${req.url?.split('?')[0]} is a WebSocket session; connect with a WebSocket client, or record the HTTP request (--mode record).`);
    }
    if (found?.kind === 'hit') {
      exchange.outcome = 'replayed';
      return this.reply(exchange, { interaction: found.interaction, match: 'exact' });
    }
    if (policy.forward) return this.forward(exchange, policy.record, Buffer.isBuffer(body) ? [body] : body.chunks);
    const near = this.config.onMiss === 'nearest' ? found!.nearest(this.config.nearestMaxDiffs) : undefined;
    if (near) {
      exchange.outcome = 'replayed';
      exchange.nearest = near;
      this.metrics.nearestAnswers.inc();
      return this.reply(exchange, { interaction: near.interaction, match: `nearest; interaction=${near.interaction.id}; diffs=${near.differences.length}` });
    }
    exchange.outcome = 'miss';
    throw found!.error(); // its explanation goes out once, in the exchange's log line
  }

  /** Sends a recording, as the beforeReplay hooks leave it. */
  private reply(exchange: Exchange, reply: Reply): Promise<void> {
    const sent = this.hooks.beforeReplay ? this.hooks.beforeReplay(reply, exchange) : reply;
    return sendRecorded(exchange.res, sent, exchange.upstream.profile.framing, this.replaySettings);
  }

  /** Forwards upstream; `body`: the request body's chunks, when replay already read it. */
  private async forward(exchange: Exchange, record: boolean, body?: readonly Buffer[]): Promise<void> {
    // One writer per cassette: one that another process records into is refused before anything is forwarded.
    if (record) await this.recorder.claim(exchange);
    await this.forwarder.forward(exchange, { record, body });
    if (record) this.recorder.record(exchange);
  }
}
