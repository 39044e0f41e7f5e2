/**
 * A response body a cassette holds still encoded (`Content-Encoding` set, `uncompressed: false`,
 * as a client that asked for gzip itself records it) turned into the decoded form the recorder
 * writes: decoded text, `uncompressed: true`, no `Content-Encoding` or `Content-Length`, as Go's
 * transport records a body it decoded. `redact` needs it to look inside; the recorder never
 * stores such a body.
 */
import zlib from 'node:zlib';
import { toBody } from './codec.js';
import type { HeaderMap, Interaction } from './types.js';

const DECODERS: Record<string, (bytes: Buffer) => Buffer> = {
  gzip: (bytes) => zlib.gunzipSync(bytes),
  'x-gzip': (bytes) => zlib.gunzipSync(bytes),
  // Servers send `deflate` with and without the zlib wrapper.
  deflate: (bytes) => {
    try {
      return zlib.inflateSync(bytes);
    } catch {
      return zlib.inflateRawSync(bytes);
    }
  },
  br: (bytes) => zlib.brotliDecompressSync(bytes),
};

/** The response's one content coding, lower case, or undefined for none (or `identity`). */
export function storedEncoding(headers: HeaderMap | undefined): string | undefined {
  for (const [name, values] of Object.entries(headers ?? {})) {
    if (name.toLowerCase() !== 'content-encoding') continue;
    const coding = values.join(',').trim().toLowerCase();
    return coding === '' || coding === 'identity' ? undefined : coding;
  }
  return undefined;
}

/** Whether `decodeStoredBody` can decode a body of this coding (a stacked or unknown one it cannot). */
export function canDecode(coding: string): boolean {
  return coding in DECODERS;
}

/** The interaction with its still-encoded response body decoded; undefined when there is none to decode, or it does not decode. */
export function decodeStoredBody(interaction: Interaction): Interaction | undefined {
  const { response } = interaction;
  const coding = storedEncoding(response.headers);
  if (response.uncompressed || coding === undefined || !canDecode(coding) || response.body.length === 0) return undefined;
  const raw = typeof response.body === 'string' ? Buffer.from(response.body, 'utf8') : Buffer.from(response.body);
  let decoded: Buffer;
  try {
    decoded = DECODERS[coding]!(raw);
  } catch {
    return undefined;
  }
  const headers = Object.fromEntries(Object.entries(response.headers).filter(([name]) => !['content-encoding', 'content-length'].includes(name.toLowerCase())));
  return { ...interaction, response: { ...response, headers, body: toBody(decoded), uncompressed: true, content_length: -1 } };
}
