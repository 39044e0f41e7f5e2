/**
 * A provider profile: what differs from one LLM API to another, so that nothing else in the proxy
 * has to know which API it talks to. A profile says how the proxy's own errors look to that API's
 * clients, which headers and query parameters carry its credentials, how its streamed answers are
 * framed, and where the API is. Adding a provider is adding a profile (and registering it in
 * registry.ts); the kernel imports none.
 */
import type { ErrorRenderer } from '../http/respond.js';
import { EventBoundaries, finalEventTest, isEventStream, splitEvents, type FinalEvents } from '../sse.js';

/** How a streamed answer is cut into events: recording times each event, replay sends them one by one. */
export interface StreamFraming {
  /** Whether an answer with this Content-Type is a stream of events. */
  isStream(contentType: string | string[] | undefined): boolean;
  /** A scanner that finds where each event ends as chunks arrive. */
  boundaries(): { scan(chunk: Uint8Array, onEnd: (endIndex: number) => void): void };
  /** A whole recorded body cut into its events, every byte kept. */
  split(body: Uint8Array): Uint8Array[];
  /** Whether an event is the one that ends a complete stream (`data: [DONE]`, `response.completed`, `message_stop`). */
  isFinal(event: Uint8Array): boolean;
}

/** Server-sent events whose complete streams end with one of `final` (OpenAI, Anthropic, Gemini with `alt=sse`). */
export function sseFraming(final: FinalEvents): StreamFraming {
  return { isStream: isEventStream, boundaries: () => new EventBoundaries(), split: splitEvents, isFinal: finalEventTest(final) };
}

/** Server-sent events with no final event known (a stream that simply ends). */
export const SSE: StreamFraming = sseFraming({});

export interface ProviderProfile extends ErrorRenderer {
  /** A short stable name, e.g. `openai`: the `upstream` of log lines and metrics. */
  readonly name: string;
  /** Where the API is when --upstream does not say. */
  readonly baseUrl: string;
  /** Lower-case header names that carry this API's credentials (see redact/secrets.ts, which adds them to its own). */
  readonly credentialHeaders: readonly string[];
  /** Query parameter names that carry this API's credentials. */
  readonly credentialParams: readonly string[];
  readonly framing: StreamFraming;
  /** The status this API answers when it is overloaded; 503 when not given (Anthropic's is 529). */
  readonly overloadedStatus?: number;
  /** The rate-limit headers this API sends with a 429 whose limits reset in `seconds`, besides retry-after. */
  rateLimitHeaders?(seconds: number): Record<string, string>;
}

/** Where a request goes: a provider's API at a base URL, whose path (if any) prefixes every request path. */
export interface Upstream {
  /** The `upstream` of log lines and metrics. */
  readonly name: string;
  readonly url: URL;
  readonly profile: ProviderProfile;
  /** Origin and path prefix, worked out once: a request's target is this plus its path. */
  readonly base: string;
}

export function upstreamAt(profile: ProviderProfile, url: URL, name = profile.name): Upstream {
  const prefix = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return { name, url, profile, base: `${url.origin}${prefix}` };
}

/** The full upstream URL of a request path (path and query, as the client sent them). */
export function upstreamUrl(upstream: Upstream, path: string): string {
  return `${upstream.base}${path}`;
}
