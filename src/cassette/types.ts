/**
 * The go-vcr v4 cassette format (`version: 2`), one type per YAML mapping, keys 1:1 with the YAML.
 * Optional keys are the ones go-vcr omits when empty; readers treat a missing one as empty.
 * This is the only definition of the format in the project.
 */

export const CASSETTE_VERSION = 2;

/** A body is text when its bytes are valid UTF-8, otherwise raw bytes (YAML `!!binary`). */
export type Body = string | Uint8Array;

/** Header names in Go's canonical spelling; every value is a list, order kept. */
export type HeaderMap = Record<string, string[]>;

/** A parsed query or urlencoded form: field names exactly as sent. */
export type FormMap = Record<string, string[]>;

export interface CassetteRequest {
  proto: string;
  proto_major: number;
  proto_minor: number;
  content_length: number;
  transfer_encoding?: string[];
  trailer?: HeaderMap;
  host: string;
  remote_addr?: string;
  request_uri?: string;
  body?: Body;
  form?: FormMap;
  headers?: HeaderMap;
  url: string;
  method: string;
}

export interface CassetteResponse {
  proto: string;
  proto_major: number;
  proto_minor: number;
  transfer_encoding?: string[];
  trailer?: HeaderMap;
  /** -1 when the length was not known (chunked, or the body was decoded). */
  content_length: number;
  /** True when the stored body was decoded from the Content-Encoding the upstream sent. */
  uncompressed?: boolean;
  body: Body;
  headers: HeaderMap;
  /** The status line text, e.g. `200 OK`. */
  status: string;
  code: number;
  /** Go duration text (`852.636542ms`): time until the response headers arrived. */
  duration: string;
}

/**
 * One WebSocket frame of a recorded session: who sent it, when (milliseconds after the `101`), and
 * exactly one of a text frame, a binary frame (YAML `!!binary`) or a close (its code and reason).
 */
export interface WebSocketFrame {
  from: 'client' | 'server';
  at_ms: number;
  text?: string;
  binary?: Uint8Array;
  close_code?: number;
  close_reason?: string;
}

/** A WebSocket session: its frames in the order they passed the proxy; `audio: digest` when audio payloads were kept as digests (--ws-audio). */
export interface WebSocketSession {
  audio?: 'digest';
  frames: WebSocketFrame[];
}

/**
 * Our one extension, under a single key that go-vcr ignores on load (and drops when it saves).
 * `event_offsets_ms[i]` is when the i-th SSE event had fully arrived, in milliseconds after the
 * response headers; replay uses it to keep a stream's rhythm. `websocket`: the frames of a session
 * whose interaction is its upgrade request and `101` answer.
 */
export interface ProxyExtension {
  event_offsets_ms?: number[];
  websocket?: WebSocketSession;
}

export const EXTENSION_KEY = 'cassette_proxy';

export interface Interaction {
  id: number;
  request: CassetteRequest;
  response: CassetteResponse;
  [EXTENSION_KEY]?: ProxyExtension;
}

/** An interaction before a save gives it its place (`id`) in a cassette. */
export type NewInteraction = Omit<Interaction, 'id'>;

export interface Cassette {
  version: typeof CASSETTE_VERSION;
  interactions: Interaction[];
}
