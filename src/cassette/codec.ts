/**
 * YAML ⇄ cassette types. Reading accepts both go-vcr v4 styles (every key written, or empty keys
 * omitted) and checks types the way Go's decoder would; writing emits go-vcr's key order with empty
 * optional keys omitted, `!!binary` for bodies that are not UTF-8, and one sequence item per
 * interaction, so that a writer can add interactions without serialising again what it already wrote.
 */
import { CORE_SCHEMA, YAMLException, binaryTag, load } from 'js-yaml';
import { ProxyError } from '../errors.js';
import { BodyNode, itemLines, sequenceItem, type ItemLines, type Node } from './emit.js';
import {
  CASSETTE_VERSION,
  EXTENSION_KEY,
  type Body,
  type Cassette,
  type CassetteRequest,
  type CassetteResponse,
  type HeaderMap,
  type Interaction,
  type NewInteraction,
  type ProxyExtension,
  type WebSocketFrame,
  type WebSocketSession,
} from './types.js';

const SCHEMA = CORE_SCHEMA.withTags(binaryTag);

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A body as the format holds it: text when the bytes are valid UTF-8 (they then round-trip exactly), raw bytes otherwise. */
export function toBody(bytes: Buffer): Body {
  try {
    return UTF8.decode(bytes);
  } catch {
    return bytes;
  }
}

export const CASSETTE_PREAMBLE = `---\nversion: ${CASSETTE_VERSION}\n`;

/** Text of a whole cassette file made of already serialised interaction blocks. */
export function cassetteText(blocks: readonly string[]): string {
  return blocks.length === 0 ? `${CASSETTE_PREAMBLE}interactions: []\n` : `${CASSETTE_PREAMBLE}interactions:\n${blocks.join('')}`;
}

/**
 * An interaction as YAML, all but its `id` line, which renderedBytes adds for the place a save
 * gives it; in ASCII with `ascii` (see itemLines). A large body's bytes are made whenever they are written.
 */
export function renderInteraction(interaction: NewInteraction, ascii = false): ItemLines {
  return itemLines(orderedInteraction(interaction), ascii);
}

/** Rendered lines as the sequence item `    - id: …` (ending in a newline), as buffers to write in a row. */
export function renderedBytes(lines: ItemLines, id: number): Iterable<Buffer> {
  return sequenceItem('id', id, lines);
}

/** One interaction as a YAML sequence item; `ascii`: see itemLines. */
export function interactionBytes(interaction: Interaction, ascii = false): Iterable<Buffer> {
  return renderedBytes(renderInteraction(interaction, ascii), interaction.id);
}

/** The same as text. */
export function serializeInteraction(interaction: Interaction): string {
  return Buffer.concat([...interactionBytes(interaction)]).toString('utf8');
}

/** A file's byte order mark is dropped (a body's is kept: see UTF8). */
const UTF8_TEXT = new TextDecoder('utf-8', { fatal: true });

/** A cassette file's bytes parsed and checked (see parseCassette); YAML must be UTF-8. */
export function parseCassetteBytes(bytes: Uint8Array, file: string): Cassette {
  let text: string;
  try {
    text = UTF8_TEXT.decode(bytes);
  } catch (err) {
    throw new ProxyError('cassette_invalid', `cassette ${file} is not valid UTF-8 text (YAML must be); binary bodies belong in !!binary`, { cause: err });
  }
  return parseCassette(text, file);
}

/**
 * Parses and checks a cassette; every error names the file and, for YAML, the line, but never
 * shows what the file holds (a cassette may hold secrets that were never meant to leave it).
 */
export function parseCassette(text: string, file: string): Cassette {
  let doc: unknown;
  try {
    // go-vcr never writes aliases; refusing them defuses alias bombs ("billion laughs").
    doc = load(text, { schema: SCHEMA, filename: file, maxAliases: 0 });
  } catch (err) {
    throw new ProxyError('cassette_invalid', `cassette ${file} is not valid YAML${yamlProblem(err)}`, { cause: err });
  }
  const check = new Checker(file);
  const top = check.mapping(doc, 'the document');
  if (top.version !== CASSETTE_VERSION) {
    throw new ProxyError(
      'cassette_invalid',
      `cassette ${file} has ${Number.isInteger(top.version) ? `version ${top.version}` : top.version == null ? 'no version' : `a version that is ${describe(top.version)}`}; only go-vcr format version 2 (an unquoted integer) is supported`,
    );
  }
  const list = top.interactions ?? [];
  if (!Array.isArray(list)) check.fail('interactions', 'must be a list');
  return {
    version: CASSETTE_VERSION,
    interactions: (list as unknown[]).map((item, index) => check.interaction(item, `interactions[${index}]`, index)),
  };
}

/**
 * Where and why js-yaml stopped, without its snippet of the file's lines; names it quotes from the
 * file (tags, handles, aliases) are left out too.
 */
function yamlProblem(err: unknown): string {
  if (!(err instanceof YAMLException)) return '';
  const reason = err.reason.replace(/!<[^>]*>/g, '!<…>').replace(/"[^"]*"/g, '"…"').replace(/: .*$/s, '');
  return err.mark ? ` at line ${err.mark.line + 1}, column ${err.mark.column + 1}: ${reason}` : `: ${reason}`;
}

/** A value by its kind, not its content. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Uint8Array) return 'binary data';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'number') return 'a number that is not an integer';
  return `a ${typeof value}`;
}

type YamlMap = Record<string, unknown>;

/** What a reason phrase may not hold (RFC 9110 allows HTAB, SP, VCHAR and obs-text). */
// eslint-disable-next-line no-control-regex
const UNSENDABLE_STATUS = /[^\t\x20-\x7e\x80-\xff]/;

/** Reads one YAML tree into typed values; missing optional keys become empty, like Go's zero values. */
class Checker {
  constructor(private readonly file: string) {}

  fail(path: string, problem: string): never {
    throw new ProxyError('cassette_invalid', `cassette ${this.file}: ${path} ${problem}`);
  }

  mapping(value: unknown, path: string): YamlMap {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
      this.fail(path, 'must be a mapping');
    }
    return value as YamlMap;
  }

  interaction(value: unknown, path: string, index: number): Interaction {
    const map = this.mapping(value, path);
    const id = map.id === undefined ? index : this.int(map, 'id', path);
    const extension = this.extension(map[EXTENSION_KEY], `${path}.${EXTENSION_KEY}`);
    const result: Interaction = {
      id,
      request: this.request(this.mapping(map.request, `${path}.request`), `${path}.request`),
      response: this.response(this.mapping(map.response, `${path}.response`), `${path}.response`, extension?.websocket !== undefined),
    };
    if (extension) result[EXTENSION_KEY] = extension;
    return result;
  }

  private request(map: YamlMap, path: string): CassetteRequest {
    const method = this.str(map, 'method', path);
    const url = this.str(map, 'url', path);
    if (!method) this.fail(`${path}.method`, 'is missing');
    if (!url) this.fail(`${path}.url`, 'is missing');
    return {
      proto: this.str(map, 'proto', path),
      proto_major: this.int(map, 'proto_major', path),
      proto_minor: this.int(map, 'proto_minor', path),
      content_length: this.int(map, 'content_length', path),
      transfer_encoding: this.strings(map.transfer_encoding, `${path}.transfer_encoding`),
      trailer: this.headers(map.trailer, `${path}.trailer`),
      host: this.str(map, 'host', path),
      remote_addr: this.str(map, 'remote_addr', path),
      request_uri: this.str(map, 'request_uri', path),
      body: this.body(map, path),
      form: this.headers(map.form, `${path}.form`),
      headers: this.headers(map.headers, `${path}.headers`),
      url,
      method,
    };
  }

  /** `websocket`: the interaction holds a session's frames, whose answer is a `101`. */
  private response(map: YamlMap, path: string, websocket: boolean): CassetteResponse {
    if (map.code === undefined) this.fail(`${path}.code`, 'is missing');
    const duration = this.str(map, 'duration', path);
    return {
      proto: this.str(map, 'proto', path),
      proto_major: this.int(map, 'proto_major', path),
      proto_minor: this.int(map, 'proto_minor', path),
      transfer_encoding: this.strings(map.transfer_encoding, `${path}.transfer_encoding`),
      trailer: this.headers(map.trailer, `${path}.trailer`),
      content_length: this.int(map, 'content_length', path),
      uncompressed: this.bool(map, 'uncompressed', path),
      body: this.body(map, path),
      headers: this.headers(map.headers, `${path}.headers`),
      status: this.statusText(map, path),
      code: this.statusCode(map, path, websocket),
      duration: duration || '0s',
    };
  }

  private extension(value: unknown, path: string): ProxyExtension | undefined {
    if (value === undefined || value === null) return undefined;
    const map = this.mapping(value, path);
    const out: ProxyExtension = {};
    const offsets = map.event_offsets_ms;
    if (offsets !== undefined && offsets !== null) {
      if (!Array.isArray(offsets) || offsets.some((n) => !isOffset(n))) this.fail(`${path}.event_offsets_ms`, 'must be a list of non-negative numbers');
      out.event_offsets_ms = offsets as number[];
    }
    if (map.websocket !== undefined && map.websocket !== null) out.websocket = this.websocket(map.websocket, `${path}.websocket`);
    return out;
  }

  private websocket(value: unknown, path: string): WebSocketSession {
    const map = this.mapping(value, path);
    if (map.audio !== undefined && map.audio !== null && map.audio !== 'digest' && map.audio !== 'full') this.fail(`${path}.audio`, 'must be digest or full');
    const frames = map.frames ?? [];
    if (!Array.isArray(frames)) this.fail(`${path}.frames`, 'must be a list');
    const session: WebSocketSession = { frames: (frames as unknown[]).map((frame, i) => this.frame(frame, `${path}.frames[${i}]`)) };
    if (map.audio === 'digest') session.audio = 'digest';
    return session;
  }

  /** A frame is exactly one of text, binary or a close; a close code is one a close frame may carry. */
  private frame(value: unknown, path: string): WebSocketFrame {
    const map = this.mapping(value, path);
    if (map.from !== 'client' && map.from !== 'server') this.fail(`${path}.from`, 'must be client or server');
    if (!isOffset(map.at_ms)) this.fail(`${path}.at_ms`, 'must be a non-negative number');
    const frame: WebSocketFrame = { from: map.from, at_ms: map.at_ms as number };
    const kinds = ['text', 'binary', 'close_code'].filter((key) => map[key] !== undefined && map[key] !== null);
    if (kinds.length !== 1) this.fail(path, 'must hold exactly one of text, binary or close_code');
    if (kinds[0] === 'text') frame.text = this.str(map, 'text', path);
    else if (kinds[0] === 'binary') {
      if (!(map.binary instanceof Uint8Array)) this.fail(`${path}.binary`, 'must be !!binary');
      frame.binary = map.binary;
    } else {
      const code = this.int(map, 'close_code', path);
      // 1005 stands for a close frame without a code.
      if (!isCloseCode(code) && code !== 1005) this.fail(`${path}.close_code`, `must be 1000 to 1014 (not 1004 or 1006) or 3000 to 4999, got ${code}`);
      frame.close_code = code;
      frame.close_reason = this.str(map, 'close_reason', path);
    }
    return frame;
  }

  /** Go decodes any scalar into a string field as its text; null, `~` and empty become "". */
  private str(map: YamlMap, key: string, path: string): string {
    const value = map[key];
    if (value === undefined || value === null) return '';
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    return this.fail(`${path}.${key}`, 'must be a string');
  }

  private int(map: YamlMap, key: string, path: string): number {
    const value = map[key];
    if (value === undefined || value === null) return 0;
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.fail(`${path}.${key}`, `must be an unquoted integer, got ${describe(value)}`);
    }
    return value;
  }

  private statusCode(map: YamlMap, path: string, websocket: boolean): number {
    const code = this.int(map, 'code', path);
    if (code < 100 || code > 999) this.fail(`${path}.code`, `must be an HTTP status from 100 to 999, got ${code}`);
    // A WebSocket session is exactly a 101 and its frames.
    if (websocket) {
      if (code !== 101) this.fail(`${path}.code`, `must be 101 for an interaction holding a WebSocket session, got ${code}`);
      return code;
    }
    // A client that gets a 1xx waits for the final answer, which a cassette cannot give.
    if (code < 200) this.fail(`${path}.code`, `must be a final HTTP status (200 or more), got ${code}: a client would wait forever after a ${code}`);
    return code;
  }

  /** The status line text (`200 OK`) goes out as the reason phrase: only characters HTTP can carry. */
  private statusText(map: YamlMap, path: string): string {
    const status = this.str(map, 'status', path);
    if (UNSENDABLE_STATUS.test(status)) {
      this.fail(`${path}.status`, `holds a character HTTP cannot carry in a status line (a control character such as CR or LF, or one beyond U+00FF): ${JSON.stringify(status)}`);
    }
    return status;
  }

  private bool(map: YamlMap, key: string, path: string): boolean {
    const value = map[key];
    if (value === undefined || value === null) return false;
    if (typeof value !== 'boolean') this.fail(`${path}.${key}`, 'must be true or false');
    return value;
  }

  private body(map: YamlMap, path: string): Body {
    const value = map.body;
    if (value === undefined || value === null) return '';
    if (typeof value === 'string' || value instanceof Uint8Array) return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    return this.fail(`${path}.body`, 'must be a string or !!binary');
  }

  private strings(value: unknown, path: string): string[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) this.fail(path, 'must be a list of strings');
    return value.map((item, i) => {
      if (typeof item === 'string') return item;
      if (typeof item === 'number' || typeof item === 'boolean') return String(item);
      return this.fail(`${path}[${i}]`, 'must be a string');
    });
  }

  private headers(value: unknown, path: string): HeaderMap {
    if (value === undefined || value === null) return {};
    const map = this.mapping(value, path);
    const out: HeaderMap = {};
    for (const [name, values] of Object.entries(map)) out[name] = this.strings(values, `${path}.${name}`);
    return out;
  }
}

/** go-vcr's key order (after `id`), with the keys it omits when empty left out. */
function orderedInteraction(i: NewInteraction): Record<string, Node> {
  const q = i.request;
  const r = i.response;
  const request = {
    proto: q.proto,
    proto_major: q.proto_major,
    proto_minor: q.proto_minor,
    content_length: q.content_length,
    transfer_encoding: nonEmptyList(q.transfer_encoding),
    trailer: nonEmptyMap(q.trailer),
    host: q.host,
    remote_addr: q.remote_addr || undefined,
    request_uri: q.request_uri || undefined,
    body: bodyLength(q.body) > 0 ? new BodyNode(q.body!) : undefined,
    form: nonEmptyMap(q.form),
    headers: nonEmptyMap(q.headers),
    url: q.url,
    method: q.method,
  };
  const response = {
    proto: r.proto,
    proto_major: r.proto_major,
    proto_minor: r.proto_minor,
    transfer_encoding: nonEmptyList(r.transfer_encoding),
    trailer: nonEmptyMap(r.trailer),
    content_length: r.content_length,
    uncompressed: r.uncompressed ? true : undefined,
    body: new BodyNode(r.body),
    headers: sortedMap(r.headers),
    status: r.status,
    code: r.code,
    duration: r.duration,
  };
  const out: Record<string, Node> = { request, response };
  const ext = i[EXTENSION_KEY];
  const offsets = ext?.event_offsets_ms?.length ? ext.event_offsets_ms : undefined;
  const websocket = ext?.websocket && { audio: ext.websocket.audio, frames: ext.websocket.frames.map(frameNode) };
  if (offsets || websocket) out[EXTENSION_KEY] = { event_offsets_ms: offsets, websocket };
  return out;
}

function frameNode(frame: WebSocketFrame): Node {
  return {
    from: frame.from,
    at_ms: frame.at_ms,
    text: frame.text === undefined ? undefined : new BodyNode(frame.text),
    binary: frame.binary === undefined ? undefined : new BodyNode(frame.binary),
    close_code: frame.close_code,
    close_reason: frame.close_code === undefined ? undefined : (frame.close_reason ?? ''),
  };
}

function isOffset(n: unknown): boolean {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0;
}

/** The codes a close frame may carry (RFC 6455 7.4; 1005 and 1006 are never sent, 1015 is TLS's). */
export function isCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

function bodyLength(body: Body | undefined): number {
  return body === undefined ? 0 : body.length;
}

function nonEmptyList(list: string[] | undefined): string[] | undefined {
  return list && list.length > 0 ? list : undefined;
}

function nonEmptyMap(map: HeaderMap | undefined): HeaderMap | undefined {
  return map && Object.keys(map).length > 0 ? sortedMap(map) : undefined;
}

/** Go's encoder sorts map keys; doing the same keeps diffs of re-recorded cassettes small. */
function sortedMap(map: HeaderMap): HeaderMap {
  const out: HeaderMap = {};
  for (const key of Object.keys(map).sort()) out[key] = map[key]!;
  return out;
}

