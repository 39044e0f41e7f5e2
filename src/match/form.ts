/**
 * Form bodies by meaning. A multipart/form-data upload and an urlencoded form match another when
 * they hold the same fields, whatever the boundary (random per request in every SDK) and whatever
 * the order of differently named fields; fields of one name keep their order, as query parameters
 * do. A multipart part matches by name, filename, content type and content: a file (any part with
 * a filename, or whose bytes are not UTF-8) by its size and SHA-256, a field's text as text, or by
 * meaning when it is JSON. --match-normalize applies to field text, JSON string values, filenames
 * and urlencoded values; never to a file's bytes. A --match-ignore path whose first segment names a
 * field leaves that field out (every part of that name), and a longer one reaches into a JSON part.
 */
import { createHash } from 'node:crypto';
import { parseJsonBody, removePaths, type JsonPath } from '../json-path.js';
import { parseContentType, parseMultipart } from './multipart.js';
import { normalizeJson } from './normalize.js';

export type PartContent = { kind: 'text'; text: string } | { kind: 'json'; value: unknown } | { kind: 'bytes'; size: number; sha256: string };

export interface FormPart {
  name: string;
  filename?: string;
  type?: string;
  content: PartContent;
}

export interface FormBody {
  kind: 'form';
  encoding: 'multipart' | 'urlencoded';
  /** Sorted by name; parts of one name in the order they were sent. */
  parts: FormPart[];
}

export interface FormRules {
  ignore: readonly JsonPath[];
  normalize: ((text: string) => string) | undefined;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The form view of a body sent with this Content-Type; undefined when it is no form, or one that
 * cannot be read with certainty (then it is compared byte for byte).
 */
export function formBody(contentType: string | undefined, bytes: Buffer, rules: FormRules): FormBody | undefined {
  const parsed = contentType === undefined ? undefined : parseContentType(contentType);
  if (parsed?.type === 'multipart/form-data') {
    const boundary = parsed.params.get('boundary');
    const parts = boundary === undefined ? undefined : parseMultipart(bytes, boundary);
    if (!parts) return undefined;
    return finish('multipart', parts.map(({ content, ...head }) => ({ ...head, content: partContent(content, head.filename !== undefined) })), rules);
  }
  if (parsed?.type === 'application/x-www-form-urlencoded') {
    const text = utf8(bytes);
    if (text === undefined) return undefined;
    const fields = [...new URLSearchParams(text)];
    // A percent-escape that is not UTF-8 decodes to U+FFFD, and two different ones would look alike.
    if (fields.some(([name, value]) => `${name}${value}`.includes('\ufffd'))) return undefined;
    return finish('urlencoded', fields.map(([name, value]) => ({ name, content: { kind: 'text', text: value } })), rules);
  }
  return undefined;
}

/** A part as one JSON value, for the match key and the fingerprint: equal values, equal parts. */
export function partValue(part: FormPart): unknown {
  const { content } = part;
  const value = content.kind === 'text' ? { text: content.text } : content.kind === 'json' ? { json: content.value } : { bytes: content.size, sha256: content.sha256 };
  return { ...value, filename: part.filename ?? null, type: part.type ?? null };
}

/** A part as a miss message shows it: text quoted, a file by name, type, size and the start of its digest. */
export function describePart(part: FormPart, show: (value: unknown) => string): string {
  const { content } = part;
  const type = part.type === undefined ? [] : [part.type];
  if (content.kind === 'bytes') {
    const file = part.filename === undefined ? 'binary' : `file ${JSON.stringify(part.filename)}`;
    return `${file} (${[...type, `${content.size} bytes`, `sha256 ${content.sha256.slice(0, 12)}`].join(', ')})`;
  }
  const shown = show(content.kind === 'text' ? content.text : content.value);
  return type.length === 0 ? shown : `${shown} (${type[0]})`;
}

function partContent(bytes: Buffer, isFile: boolean): PartContent {
  const text = isFile ? undefined : utf8(bytes);
  if (text === undefined) return { kind: 'bytes', size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
  if (/^\s*[{[]/.test(text)) {
    try {
      return { kind: 'json', value: parseJsonBody(text) };
    } catch {
      // Text that only looks like JSON, or nests too deep to walk: compared as text.
    }
  }
  return { kind: 'text', text };
}

/** Ignored fields out, normalisers applied, parts sorted by name (a stable sort keeps each name's order). */
function finish(encoding: FormBody['encoding'], parts: FormPart[], { ignore, normalize }: FormRules): FormBody {
  let kept = parts;
  for (const path of ignore) {
    const [head, ...rest] = path.segments;
    if (typeof head !== 'string') continue;
    const named = (part: FormPart): boolean => head === '*' || part.name === head;
    if (rest.length === 0) kept = kept.filter((part) => !named(part));
    else for (const part of kept) if (named(part) && part.content.kind === 'json') removePaths(part.content.value, [{ text: path.text, segments: rest }]);
  }
  if (normalize) {
    for (const part of kept) {
      if (part.filename !== undefined) part.filename = normalize(part.filename);
      if (part.content.kind === 'text') part.content.text = normalize(part.content.text);
      else if (part.content.kind === 'json') normalizeJson(part.content.value, normalize);
    }
  }
  return { kind: 'form', encoding, parts: kept.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) };
}

function utf8(bytes: Buffer): string | undefined {
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}
