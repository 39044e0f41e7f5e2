/**
 * A strict parser of a buffered multipart/form-data body (RFC 7578 on RFC 2046's syntax) into its
 * parts: name, filename, content type and content bytes. Anything it cannot read with certainty
 * (no boundary, a part without a name, a body cut short before the closing delimiter) gives
 * undefined, never a guess and never an exception: the caller then compares the body byte for
 * byte, as it did before form bodies matched by meaning. Synchronous, on bytes already in memory:
 * a match key is computed while a cassette loads and on the request path, where a streaming
 * parser's events would have to be awaited.
 */

export interface MultipartPart {
  name: string;
  /** Present (maybe empty) for a file part; undefined for a plain field. */
  filename?: string;
  /** The part's Content-Type, media type in lower case; undefined when the part has none. */
  type?: string;
  content: Buffer;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const CRLF = Buffer.from('\r\n');
const HEADERS_END = Buffer.from('\r\n\r\n');
const DASH = 0x2d;

/** The media type (lower case) and parameters of a Content-Type value; undefined when it cannot be read. */
export function parseContentType(value: string): { type: string; params: Map<string, string> } | undefined {
  const semicolon = value.indexOf(';');
  const type = (semicolon === -1 ? value : value.slice(0, semicolon)).trim().toLowerCase();
  if (!/^[!#$%&'*+.^_`|~0-9a-z-]+\/[!#$%&'*+.^_`|~0-9a-z-]+$/.test(type)) return undefined;
  const params = semicolon === -1 ? new Map<string, string>() : parseParams(value.slice(semicolon));
  return params && { type, params };
}

/** The parts of `body`, or undefined when it is not a well-formed multipart body with this boundary. */
export function parseMultipart(body: Buffer, boundary: string): MultipartPart[] | undefined {
  if (boundary.length === 0 || boundary.length > 200 || /[\r\n]/.test(boundary)) return undefined;
  const delimiter = Buffer.from(`\r\n--${boundary}`, 'utf8');
  // The first delimiter opens the body, or follows a preamble (which is ignored) and its CRLF.
  let at: number;
  if (body.subarray(0, delimiter.length - 2).equals(delimiter.subarray(2))) at = delimiter.length - 2;
  else {
    const first = body.indexOf(delimiter);
    if (first === -1) return undefined;
    at = first + delimiter.length;
  }
  const parts: MultipartPart[] = [];
  for (;;) {
    // After a delimiter: `--` closes the body (the epilogue after it is ignored); otherwise
    // optional transport padding, then the CRLF before the part's headers.
    if (body[at] === DASH && body[at + 1] === DASH) return parts;
    while (body[at] === 0x20 || body[at] === 0x09) at++;
    if (!body.subarray(at, at + 2).equals(CRLF)) return undefined;
    at += 2;
    const headersEnd = body.indexOf(HEADERS_END, at);
    if (headersEnd === -1) return undefined;
    const contentStart = headersEnd + HEADERS_END.length;
    const contentEnd = body.indexOf(delimiter, contentStart);
    if (contentEnd === -1) return undefined;
    const part = readHeaders(body.subarray(at, headersEnd));
    if (!part) return undefined;
    parts.push({ ...part, content: body.subarray(contentStart, contentEnd) });
    at = contentEnd + delimiter.length;
  }
}

/** A part's name, filename and content type from its header block; undefined without a form-data Content-Disposition. */
function readHeaders(block: Buffer): Omit<MultipartPart, 'content'> | undefined {
  const text = decodeHeaders(block);
  const headers = new Map<string, string>();
  let last: string | undefined;
  for (const line of text.split('\r\n')) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && last !== undefined) {
      // An obsolete folded continuation of the header above.
      headers.set(last, `${headers.get(last)} ${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    last = line.slice(0, colon).trim().toLowerCase();
    headers.set(last, line.slice(colon + 1).trim());
  }
  const disposition = headers.get('content-disposition');
  if (disposition === undefined) return undefined;
  const semicolon = disposition.indexOf(';');
  if (semicolon === -1 || disposition.slice(0, semicolon).trim().toLowerCase() !== 'form-data') return undefined;
  const params = parseParams(disposition.slice(semicolon));
  const name = params?.get('name');
  if (!params || name === undefined) return undefined;
  const part: Omit<MultipartPart, 'content'> = { name };
  const filename = extendedValue(params.get('filename*')) ?? params.get('filename');
  if (filename !== undefined) part.filename = filename;
  const contentType = headers.get('content-type');
  if (contentType !== undefined) part.type = normalizeType(contentType);
  return part;
}

/** Header bytes are UTF-8 from every current client; anything else is read byte for byte, the same on both sides. */
function decodeHeaders(block: Buffer): string {
  try {
    return UTF8.decode(block);
  } catch {
    return block.toString('latin1');
  }
}

/**
 * `; key=token` or `; key="quoted"` pairs, keys in lower case. A quoted value is kept as written
 * between its quotes: clients disagree on escaping (browsers and undici percent-encode a quote,
 * others backslash it), and both sides of a match are read alike.
 */
function parseParams(text: string): Map<string, string> | undefined {
  const params = new Map<string, string>();
  const param = /\s*;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;"]*))\s*/y;
  let at = 0;
  while (at < text.length) {
    if (/^\s*;?\s*$/.test(text.slice(at))) break;
    param.lastIndex = at;
    const match = param.exec(text);
    if (!match) return undefined;
    params.set(match[1]!.toLowerCase(), match[2] ?? match[3]!);
    at = param.lastIndex;
  }
  return params;
}

/** RFC 8187's `charset'language'percent-encoded` (filename*=); undefined when absent or unreadable. */
function extendedValue(value: string | undefined): string | undefined {
  const match = value === undefined ? null : /^([^']*)'[^']*'(.*)$/.exec(value);
  if (!match || !/^utf-8$/i.test(match[1]!)) return undefined;
  try {
    return decodeURIComponent(match[2]!);
  } catch {
    return undefined;
  }
}

/** `Text/Plain ;charset=UTF-8` → `text/plain; charset=UTF-8`: the type's case and the spacing are not part of its meaning. */
function normalizeType(value: string): string {
  const [type, ...params] = value.split(';').map((piece) => piece.trim());
  return [type!.toLowerCase(), ...params.filter(Boolean)].join('; ');
}
