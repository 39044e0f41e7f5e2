/**
 * A provider profile: what differs from one LLM API to another, so that nothing else in the proxy
 * has to know which API it talks to. A profile says how the proxy's own errors look to that API's
 * clients, which headers and query parameters carry its credentials, how its streamed answers are
 * framed, and where the API is. Adding a provider is adding a profile (and registering it in
 * registry.ts); the kernel imports none.
 */
import type { ProxyError } from '../errors.js';
import type { ErrorRenderer } from '../http/respond.js';
import { isAwsEventStream, MessageBoundaries, splitMessages } from '../eventstream.js';
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

/** AWS event stream messages (Bedrock), binary; no final message is known (the stream simply ends). */
export const AWS_EVENT_STREAM: StreamFraming = { isStream: isAwsEventStream, boundaries: () => new MessageBoundaries(), split: splitMessages, isFinal: () => false };

/**
 * SSE whose complete streams end with one of `final`, or AWS event stream messages, whichever the
 * upstream sends: the Content-Type says whether an answer is a stream, its first byte which kind. An
 * AWS message begins with its length, whose first byte is 0 for any message under 16 MiB (the
 * format's limit); SSE is text, which never begins with a NUL.
 */
export function streams(final: FinalEvents): StreamFraming {
  const sse = sseFraming(final);
  const kind = (first: number | undefined): StreamFraming => (first === 0 ? AWS_EVENT_STREAM : sse);
  return {
    isStream: (contentType) => sse.isStream(contentType) || AWS_EVENT_STREAM.isStream(contentType),
    boundaries() {
      let chosen: ReturnType<StreamFraming['boundaries']> | undefined;
      return {
        scan(chunk, onEnd) {
          if (chunk.length === 0) return;
          chosen ??= kind(chunk[0]).boundaries();
          chosen.scan(chunk, onEnd);
        },
      };
    },
    split: (body) => kind(body[0]).split(body),
    isFinal: (event) => kind(event[0]).isFinal(event),
  };
}

/** How an API takes a key: where the proxy puts one (--upstream-key), and where else an app may have put one, which the proxy removes. */
export interface KeyPlacement {
  /** Lower-case header name. */
  readonly header: string;
  /** What precedes the key in the header's value, e.g. `Bearer `. */
  readonly prefix: string;
  /** Other lower-case headers and query parameters that carry a key to this API. */
  readonly replaces: { readonly headers: readonly string[]; readonly params: readonly string[] };
}

export interface ProviderProfile extends ErrorRenderer {
  /** A short stable name, e.g. `openai`: the default `upstream` of log lines and metrics, and the KIND of --provider. */
  readonly name: string;
  /** Where the API is when --upstream does not say. */
  readonly baseUrl: string;
  /** The hosts of this API: an upstream at one of them gets this profile unless --provider says otherwise. */
  readonly hosts: readonly RegExp[];
  /** The status this API answers when it is overloaded (a fault to imitate): Anthropic's 529, the others' 503. */
  readonly overloadedStatus: number;
  readonly key: KeyPlacement;
  /** Lower-case header names that carry this API's credentials (see redact/secrets.ts, which adds them to its own). */
  readonly credentialHeaders: readonly string[];
  /** Query parameter names that carry this API's credentials. */
  readonly credentialParams: readonly string[];
  readonly framing: StreamFraming;
  /**
   * The proxy's own error as an event on a WebSocket session (a replay miss), in the API's event
   * shape; `clientEvent`: the client's event that caused it, when it was JSON.
   */
  renderSocketError?(error: ProxyError, clientEvent: Record<string, unknown> | undefined): string;
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
