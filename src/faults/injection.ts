/**
 * Fault injection, one feature on the hook points: at arrival it chooses an exchange's faults (its
 * `x-cassette-fault` header, or else the rules), and applies them to the recorded answer
 * (`beforeReplay`) or to the upstream's (`beforeRespond`). An error fault answers in the provider's
 * own error shape; a faulted exchange is marked (`exchange.fault`) so that it is logged, counted
 * and never recorded.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HeaderMap } from '../cassette/types.js';
import type { FaultRuleSet } from '../config.js';
import { ProxyError, type ErrorCode } from '../errors.js';
import { FAULT_HEADER, takeFaultHeader, type Exchange } from '../exchange/exchange.js';
import type { BeforeHead, Feature, Reply, UpstreamAnswer } from '../exchange/hooks.js';
import type { Metrics } from '../metrics.js';
import type { ProviderProfile } from '../providers/profile.js';
import { faultText, parseFaults, type Fault } from './catalogue.js';
import { FaultRules, checkRuleSet } from './rules.js';
import { eventsOf, streamFaults, type EventTransform } from './stream.js';

export interface FaultSettings {
  /** Rules from the start (--faults). */
  rules: FaultRuleSet | undefined;
  /** Seconds replayed and injected answers give in retry-after (--replay-retry-after). */
  replayRetryAfter: number | undefined;
  /** How long a `timeout` holds the head back at most (--upstream-timeout). */
  upstreamTimeoutMs: number;
}

/** What an injected 429 asks a client to wait when --replay-retry-after does not say. */
const DEFAULT_RETRY_AFTER_S = 1;

const ERRORS: Record<'rate-limit' | 'server-error' | 'overloaded', { code: ErrorCode; message: string }> = {
  'rate-limit': { code: 'rate_limit_exceeded', message: 'Rate limit reached for requests. Please try again later.' },
  'server-error': { code: 'server_error', message: 'The server had an error while processing your request.' },
  overloaded: { code: 'overloaded', message: 'The server is currently overloaded. Please try again later.' },
};

/** An answer an error fault puts in place of the real one. */
interface ErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export class FaultInjection {
  private rules: FaultRules | undefined;
  /** Each exchange's faults, from its arrival until its answer is made; only faulted exchanges are kept. */
  private readonly chosen = new WeakMap<Exchange, Fault[]>();
  /** Recorded answers with their retry-after rewritten, made once per recording. */
  private readonly rewritten = new WeakMap<Reply['interaction'], Reply['interaction']>();
  readonly feature: Feature;

  constructor(
    private readonly settings: FaultSettings,
    private readonly metrics: Metrics,
  ) {
    if (settings.rules) this.rules = new FaultRules(settings.rules);
    this.feature = {
      onArrival: (exchange) => this.choose(exchange),
      beforeReplay: (reply, exchange) => this.retryAfter(this.inReplay(reply, exchange)),
      beforeRespond: (answer, exchange) => this.inForwarding(answer, exchange),
    };
  }

  /** The rules at work now, as set (GET /_proxy/faults); undefined when there are none. */
  current(): FaultRuleSet | undefined {
    return this.rules?.set;
  }

  /** Replaces the rules (PUT /_proxy/faults); their counts start again. Throws an `invalid_request` ProxyError for bad rules. */
  set(value: unknown): FaultRuleSet {
    this.rules = new FaultRules(checkRuleSet(value));
    return this.rules.set;
  }

  clear(): void {
    this.rules = undefined;
  }

  private choose(exchange: Exchange): void {
    const { req } = exchange;
    const header = takeFaultHeader(req);
    // A request that names its faults is not one the rules count.
    const faults =
      header !== undefined
        ? parseFaults(header, FAULT_HEADER)
        : this.rules?.choose({ method: req.method ?? 'GET', path: (req.url ?? '/').split('?')[0]!, upstream: exchange.upstream.name });
    if (faults) this.chosen.set(exchange, faults);
  }

  private inReplay(reply: Reply, exchange: Exchange): Reply {
    const faults = this.chosen.get(exchange);
    if (!faults) return reply;
    const plan = this.plan(faults, exchange, headerOf(reply.interaction.response.headers, 'content-type'), undefined);
    if (plan.error) {
      const { status, headers, body } = plan.error;
      const response = {
        ...reply.interaction.response,
        code: status,
        status: `${status} ${STATUS_CODES[status] ?? ''}`.trim(),
        headers: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
        body,
      };
      return { ...reply, interaction: { id: reply.interaction.id, request: reply.interaction.request, response } };
    }
    return { ...reply, ...(plan.beforeHead && { beforeHead: plan.beforeHead }), ...(plan.transform && { events: plan.transform }) };
  }

  private inForwarding(answer: UpstreamAnswer, exchange: Exchange): UpstreamAnswer {
    const faults = this.chosen.get(exchange);
    if (!faults) return answer;
    const named = (name: string): string | undefined => {
      for (let i = 0; i + 1 < answer.headers.length; i += 2) if (answer.headers[i]!.toLowerCase() === name) return answer.headers[i + 1];
      return undefined;
    };
    const plan = this.plan(faults, exchange, named('content-type'), named('content-encoding'));
    if (plan.error) {
      const { status, headers, body } = plan.error;
      // The upstream's answer is let go (read to its end, so its connection can be used again).
      answer.body.resume();
      return { status, reason: STATUS_CODES[status], headers: Object.entries(headers).flat(), body: Readable.from([Buffer.from(body)]) };
    }
    const { framing } = exchange.upstream.profile;
    return { ...answer, ...(plan.beforeHead && { beforeHead: plan.beforeHead }), ...(plan.transform && { body: Readable.from(plan.transform(eventsOf(answer.body, framing))) }) };
  }

  /**
   * What `faults` do to an answer of this content type and coding: an error in its place, or a
   * held-back head and a transform of its events. Marks the exchange with the faults applied (a
   * stream fault does nothing to an answer that is not a stream).
   */
  private plan(faults: Fault[], exchange: Exchange, contentType: string | undefined, encoding: string | undefined): { error?: ErrorAnswer; beforeHead?: BeforeHead; transform?: EventTransform } {
    const { profile } = exchange.upstream;
    const [first] = faults;
    if (first!.kind === 'rate-limit' || first!.kind === 'server-error' || first!.kind === 'overloaded') {
      this.injected(exchange, faults);
      return { error: this.errorAnswer(first!.kind, profile) };
    }
    const coding = encoding?.trim().toLowerCase();
    // Events are found in the bytes as sent: an encoded stream's cannot be seen.
    const streamed = profile.framing.isStream(contentType) && (!coding || coding === 'identity');
    const shaped = streamed ? streamFaults(faults, profile.framing) : undefined;
    const beforeHead = this.headFault(faults, exchange.res);
    const applied = [...(beforeHead ? faults.filter((f) => f.kind === 'timeout' || f.kind === 'slow-first-byte') : []), ...(shaped?.applied ?? [])];
    if (applied.length > 0) this.injected(exchange, applied);
    return { beforeHead, transform: shaped?.transform };
  }

  /** What holds the head back: `timeout` (until the client gives up, at most --upstream-timeout) or `slow-first-byte`. */
  private headFault(faults: readonly Fault[], res: ServerResponse): BeforeHead | undefined {
    const [first] = faults;
    if (first?.kind === 'timeout') return () => untilClientLeaves(res, this.settings.upstreamTimeoutMs);
    const slow = faults.find((f) => f.kind === 'slow-first-byte');
    return slow && 'ms' in slow ? () => sleep(slow.ms) : undefined;
  }

  private errorAnswer(kind: keyof typeof ERRORS, profile: ProviderProfile): ErrorAnswer {
    const { code, message } = ERRORS[kind];
    const error = new ProxyError(code, `${message} (cassette-proxy fault injection: ${kind})`);
    const rendered = profile.renderError(error);
    const status = kind === 'overloaded' ? (profile.overloadedStatus ?? error.status) : error.status;
    const headers: Record<string, string> = { ...rendered.headers, 'content-length': String(Buffer.byteLength(rendered.body)) };
    if (kind === 'rate-limit') {
      const seconds = this.settings.replayRetryAfter ?? DEFAULT_RETRY_AFTER_S;
      Object.assign(headers, retryAfterHeaders(seconds), profile.rateLimitHeaders?.(seconds));
    }
    return { status, headers, body: rendered.body };
  }

  private injected(exchange: Exchange, faults: readonly Fault[]): void {
    exchange.fault = faults.map(faultText).join(',');
    for (const fault of faults) this.metrics.faultsInjected.inc({ fault: fault.kind });
  }

  /** A replayed answer's retry-after and retry-after-ms, as --replay-retry-after says. */
  private retryAfter(reply: Reply): Reply {
    const seconds = this.settings.replayRetryAfter;
    if (seconds === undefined) return reply;
    const { interaction } = reply;
    let changed = this.rewritten.get(interaction);
    if (!changed) {
      const wanted = retryAfterHeaders(seconds);
      const names = Object.keys(interaction.response.headers).filter((name) => name.toLowerCase() in wanted);
      if (names.length === 0) return reply;
      const headers = { ...interaction.response.headers };
      for (const name of names) headers[name] = [wanted[name.toLowerCase() as keyof typeof wanted]];
      changed = { ...interaction, response: { ...interaction.response, headers } };
      this.rewritten.set(interaction, changed);
    }
    return { ...reply, interaction: changed };
  }
}

function retryAfterHeaders(seconds: number): { 'retry-after': string; 'retry-after-ms': string } {
  // retry-after takes whole seconds; retry-after-ms (read by OpenAI's SDKs first) keeps the fraction.
  return { 'retry-after': String(Math.ceil(seconds)), 'retry-after-ms': String(Math.round(seconds * 1000)) };
}

/** Resolves when the client goes away; rejects after `boundMs` (the exchange is then closed with no answer). */
function untilClientLeaves(res: ServerResponse, boundMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (res.destroyed) return resolve();
    const timer = setTimeout(() => {
      res.off('close', left);
      reject(new ProxyError('upstream_timeout', `fault timeout: no response headers were sent for ${boundMs / 1000} s (--upstream-timeout); the connection is closed with no answer`));
    }, boundMs);
    const left = (): void => {
      clearTimeout(timer);
      resolve();
    };
    res.once('close', left);
  });
}

function headerOf(headers: HeaderMap, name: string): string | undefined {
  for (const [key, values] of Object.entries(headers)) if (key.toLowerCase() === name) return values[0];
  return undefined;
}
