/**
 * The copy of a completed exchange → a go-vcr interaction, holding what a Go client would have
 * held: request headers the client set (no hop-by-hop or transport headers), header names in Go's
 * spelling, the transfer encoding moved out of the headers, a chunked body's trailers moved to
 * `trailer` (the `Trailer` header with them), Go's `ContentLength`, and a decoded body flagged `uncompressed`.
 */
import { canonicalHeaderKey, formatDuration } from '../cassette/go.js';
import { toBody } from '../cassette/codec.js';
import type { FormMap, HeaderMap, NewInteraction } from '../cassette/types.js';
import type { Capture } from '../exchange/exchange.js';
import { HOP_BY_HOP, WEBSOCKET_HANDSHAKE, rawHeaderValues } from '../http/headers.js';
import { announcedTrailers } from '../http/trailers.js';

/** Headers that belong to one connection, or that Go's transport adds itself: never recorded on a request. */
const NOT_RECORDED_REQUEST: ReadonlySet<string> = new Set([...HOP_BY_HOP, 'host', 'content-length', ...WEBSOCKET_HANDSHAKE]);

/** The accept key answers the request's random key: a WebSocket client makes and checks both itself. */
const NOT_RECORDED_RESPONSE: ReadonlySet<string> = new Set(['transfer-encoding', 'sec-websocket-accept']);

const NONE: ReadonlySet<string> = new Set();

/** Statuses whose answer never has a body: Go gives them a ContentLength of 0 whatever the headers say. */
const NO_BODY_STATUS: ReadonlySet<number> = new Set([204, 304]);

const FORM_METHODS = new Set(['POST', 'PUT', 'PATCH']);

export function toInteraction(x: Capture): NewInteraction {
  const requestHeaders = headerMap(x.rawHeaders, NOT_RECORDED_REQUEST);
  const url = new URL(x.url);
  const res = x.response;
  const responseHeaders = headerMap(res.rawHeaders, NOT_RECORDED_RESPONSE);
  const transferEncoding = rawHeaderValues(res.rawHeaders, 'transfer-encoding')
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
  const declared = Number(rawHeaderValues(res.rawHeaders, 'content-length')[0]);
  const declaredLength = Number.isInteger(declared) && declared >= 0 ? declared : -1;
  // Go's ContentLength: what a HEAD's answer declares; 0 for a status without a body; otherwise the
  // declared length of the body as stored, -1 when chunked or decoded.
  const contentLength =
    x.method === 'HEAD' ? declaredLength : NO_BODY_STATUS.has(res.statusCode) ? 0 : res.decoded || transferEncoding.length > 0 ? -1 : declaredLength;
  if (res.decoded) {
    // Go's transport does the same when it gunzips: the stored body no longer has that encoding or length.
    delete responseHeaders['Content-Encoding'];
    delete responseHeaders['Content-Length'];
  }
  // Go moves a chunked answer's trailers out of the headers, each name it announces held from the start.
  let trailer: HeaderMap | undefined;
  if (transferEncoding.at(-1)?.toLowerCase() === 'chunked') {
    trailer = {};
    for (const name of announcedTrailers(rawHeaderValues(res.rawHeaders, 'trailer'))) trailer[canonicalHeaderKey(name)] = [];
    Object.assign(trailer, headerMap(res.rawTrailers ?? [], NONE));
    delete responseHeaders['Trailer'];
  }
  const interaction: NewInteraction = {
    request: {
      proto: 'HTTP/1.1',
      proto_major: 1,
      proto_minor: 1,
      content_length: x.body.length,
      host: url.host,
      body: toBody(x.body),
      form: formOf(url, x.method, requestHeaders, x.body),
      headers: requestHeaders,
      url: x.url,
      method: x.method,
    },
    response: {
      proto: `HTTP/${res.httpVersionMajor}.${res.httpVersionMinor}`,
      proto_major: res.httpVersionMajor,
      proto_minor: res.httpVersionMinor,
      transfer_encoding: transferEncoding,
      trailer,
      content_length: contentLength,
      uncompressed: res.decoded,
      body: toBody(res.body),
      headers: responseHeaders,
      status: `${res.statusCode} ${res.statusMessage}`.trim(),
      code: res.statusCode,
      duration: formatDuration(x.durationNs),
    },
  };
  if (x.eventOffsetsMs) interaction.cassette_proxy = { event_offsets_ms: x.eventOffsetsMs };
  if (x.websocket) interaction.cassette_proxy = { websocket: x.websocket };
  return interaction;
}

function headerMap(raw: readonly string[], skip: ReadonlySet<string>): HeaderMap {
  const out: HeaderMap = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (skip.has(name.toLowerCase())) continue;
    (out[canonicalHeaderKey(name)] ??= []).push(raw[i + 1]!);
  }
  return out;
}

/** go-vcr's `form`: the URL query, plus an urlencoded body for POST, PUT and PATCH. */
function formOf(url: URL, method: string, headers: HeaderMap, body: Buffer): FormMap {
  const form: FormMap = {};
  const add = (params: URLSearchParams): void => params.forEach((value, name) => (form[name] ??= []).push(value));
  // Reading searchParams builds a URLSearchParams: most recorded URLs have no query.
  if (url.search) add(url.searchParams);
  const type = headers['Content-Type']?.[0] ?? '';
  if (FORM_METHODS.has(method) && type.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    add(new URLSearchParams(body.toString('utf8')));
  }
  return form;
}
