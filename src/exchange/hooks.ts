/**
 * The named points where a feature may change an exchange, and the one place their hooks are
 * composed. A feature (redaction, a matching normaliser, a provider's quirk, fault injection) is one
 * module exporting a Feature; the composition root (server/) registers it. The points, in the order
 * an exchange meets them:
 *   onArrival      every exchange, once its cassette and upstream are known (faults choose here,
 *                  in arrival order)
 *   beforeMatch    replay: a request prepared for matching, on both sides alike: each recorded
 *                  request (once, when its cassette loads) and each incoming one
 *   beforeReplay   replay: the recorded answer about to be sent (a fault may replace it)
 *   beforeForward  forwarding: the request about to go upstream, changed in place (its headers and
 *                  path: a key the proxy holds for that upstream); the recording copies it as sent
 *   beforeRespond  forwarding: the upstream's answer, its head and its body stream, about to be
 *                  relayed; the cassette's copy is always the upstream's own answer
 *   afterCapture   recording: the interaction just made from the copied bytes, before any change
 *   beforeSave     recording: the last change before storage; redaction is registered last, so
 *                  nothing after it can put a credential back
 * Hooks of one point run in the order their features were registered. Each point is composed once,
 * at start, into one function, or none when no feature uses it: an exchange then pays one property
 * check per point, and allocates nothing for it.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { Body, HeaderMap, Interaction, NewInteraction } from '../cassette/types.js';
import type { Exchange } from './exchange.js';

/** A request's parts as matching reads them, before they are parsed. */
export interface MatchRequest {
  url: string;
  headers: HeaderMap;
  body: Body;
}

/** How a request is prepared for matching (match/request-view.ts applies it). */
export interface MatchPreparation {
  /** Changes a request's parts before they are parsed (redaction: a redacted cassette matches the requests that made it). */
  request?: (request: MatchRequest) => MatchRequest;
  /** Changes each string that takes part in matching (query values, JSON string values, a text body), after parsing, so that no body is parsed twice. */
  text?: (text: string) => string;
}

/**
 * When an answer's head goes out, besides its own timing (a recording's pacing, the upstream's
 * arrival). Called just before the head would be sent; the head waits for it to resolve. Rejecting
 * closes the connection with no answer at all; the rejection is the exchange's failure.
 */
export type BeforeHead = () => Promise<void>;

/** A recorded answer about to be replayed. */
export interface Reply {
  interaction: Interaction;
  /** How it was found, for the `x-cassette-match` header: `exact`, or `nearest; …`. */
  match: string;
  beforeHead?: BeforeHead;
  /**
   * A streamed answer's events as they are to be sent, made from the recorded ones (as paced):
   * events may be changed, delayed or left out; a throw cuts the stream there.
   */
  events?: (recorded: AsyncIterable<Uint8Array>) => AsyncIterable<Uint8Array>;
}

/** An upstream's answer about to be relayed: its head, hop-by-hop headers left out, and its body. */
export interface UpstreamAnswer {
  status: number;
  reason: string | undefined;
  /** [name, value, name, value, …] as they will be sent. */
  headers: string[];
  /** What is relayed; a hook's stream that fails cuts the answer there. */
  body: Readable;
  beforeHead?: BeforeHead;
}

export type InteractionHook = (interaction: NewInteraction, exchange: Exchange) => NewInteraction;
export type ReplyHook = (reply: Reply, exchange: Exchange) => Reply;
export type RespondHook = (answer: UpstreamAnswer, exchange: Exchange) => UpstreamAnswer;
/** Changes the request in place (`headers`, `rawHeaders` and `url` alike) and returns it. */
export type ForwardHook = (req: IncomingMessage, exchange: Exchange) => IncomingMessage;

export type ArrivalHook = (exchange: Exchange) => void;

/** One feature's hooks, each optional. */
export interface Feature {
  onArrival?: ArrivalHook;
  afterCapture?: InteractionHook;
  beforeSave?: InteractionHook;
  beforeMatch?: MatchPreparation;
  beforeReplay?: ReplyHook;
  beforeForward?: ForwardHook;
  beforeRespond?: RespondHook;
}

export class Hooks {
  readonly onArrival: ArrivalHook | undefined;
  readonly afterCapture: InteractionHook | undefined;
  readonly beforeSave: InteractionHook | undefined;
  readonly beforeMatch: MatchPreparation;
  readonly beforeReplay: ReplyHook | undefined;
  readonly beforeForward: ForwardHook | undefined;
  readonly beforeRespond: RespondHook | undefined;

  constructor(features: readonly Feature[]) {
    const arrivals = features.map((f) => f.onArrival).filter((hook) => hook !== undefined);
    this.onArrival = arrivals.length <= 1 ? arrivals[0] : (exchange) => arrivals.forEach((hook) => hook(exchange));
    this.afterCapture = chain(features.map((f) => f.afterCapture));
    this.beforeSave = chain(features.map((f) => f.beforeSave));
    this.beforeReplay = chain(features.map((f) => f.beforeReplay));
    this.beforeForward = chain(features.map((f) => f.beforeForward));
    this.beforeRespond = chain(features.map((f) => f.beforeRespond));
    this.beforeMatch = {
      request: chain(features.map((f) => f.beforeMatch?.request)),
      text: chain(features.map((f) => f.beforeMatch?.text)),
    };
  }
}

/** The registered hooks of one point as one function, each getting what the one before returned; undefined for none. */
function chain<T, R extends unknown[]>(hooks: readonly (((value: T, ...rest: R) => T) | undefined)[]): ((value: T, ...rest: R) => T) | undefined {
  const present = hooks.filter((hook) => hook !== undefined);
  if (present.length <= 1) return present[0];
  return (value, ...rest) => present.reduce((current, hook) => hook(current, ...rest), value);
}
