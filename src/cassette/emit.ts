/**
 * The cassette writer's YAML emitter. An interaction has a fixed shape, so it is written directly
 * (several times faster than a general YAML dumper, which matters on the recording path): keys in
 * go-vcr's order, scalars plain when they cannot be misread, otherwise double-quoted with JSON
 * escapes (valid YAML), multi-line text bodies as literal blocks (readable SSE streams), and bytes
 * that are not UTF-8 as `!!binary` base64. The round-trip property test reads its output back with
 * the loader and with plain js-yaml.
 */

const INDENT = '  ';
/** Sequence items sit at column 4 with their keys at column 6, as go-vcr writes them: every line of an item is indented. */
const ITEM_INDENT = '      ';

/**
 * Plain scalars: letters, digits and a few safe marks, not starting with anything YAML gives a
 * meaning to, and not a word, number or date that a YAML 1.1 or 1.2 reader could take for a non-string.
 */
const PLAIN = /^[A-Za-z0-9_./][A-Za-z0-9 _./:+()=,;@-]*$/;
const NOT_A_STRING =
  /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|~|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|[-+]?(?:\d[\d_]*(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|0x[\dA-Fa-f_]+|0o?[0-7_]+|0b[01_]+|\d[\d_]*(?::[0-5]?\d)+(?:\.\d*)?)|\d{4}-\d\d?-\d\d?.*)$/;
/** Characters YAML wants escaped even inside double quotes (JSON.stringify leaves them raw). */
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g;
// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\u0000-\u007e]/u;
// eslint-disable-next-line no-control-regex
const NON_ASCII_ALL = /[^\u0000-\u007e]/gu;
/** Text a literal block cannot hold as is: CR (a reader folds CRLF), control and special characters. */
// eslint-disable-next-line no-control-regex
const NOT_LITERAL = /[\r\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/;

function scalar(text: string, ascii: boolean): string {
  const plain = PLAIN.test(text) && !text.endsWith(' ') && !text.endsWith(':') && !text.includes(': ') && !NOT_A_STRING.test(text);
  return plain ? text : quoted(text, ascii);
}

/**
 * Single quotes for printable one-line text (only `'` is doubled), double quotes with escapes
 * otherwise; `ascii` escapes every character past ASCII too.
 */
function quoted(text: string, ascii: boolean): string {
  const nonAscii = ascii && NON_ASCII.test(text);
  if (!nonAscii && !text.includes('\n') && !text.includes('\t') && !NOT_LITERAL.test(text)) return `'${text.replaceAll("'", "''")}'`;
  return JSON.stringify(text).replace(nonAscii ? NON_ASCII_ALL : NEEDS_ESCAPE, escape);
}

/** A YAML escape: `\\uXXXX`, or `\\UXXXXXXXX` past the BMP (Go's YAML reader refuses a surrogate pair). */
function escape(c: string): string {
  const code = c.codePointAt(0)!;
  return code > 0xffff ? `\\U${code.toString(16).padStart(8, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Output pieces: bytes ready now, or a large body's bytes, made when they are written. */
type Part = Buffer | (() => Iterable<Buffer>);

/**
 * Collects the output, so that a large literal-block or binary body never becomes one large string
 * or buffer (a large quoted one is made whole, but only when it is written).
 */
class Out {
  private readonly parts: Part[] = [];
  private text = '';

  /** Write only ASCII: see itemLines. */
  constructor(readonly ascii: boolean) {}

  str(text: string): void {
    this.text += text;
    if (this.text.length > 1 << 16) this.cut();
  }

  later(make: () => Iterable<Buffer>): void {
    this.cut();
    this.parts.push(make);
  }

  done(): Part[] {
    this.cut();
    return this.parts;
  }

  private cut(): void {
    if (this.text) this.parts.push(Buffer.from(this.text, 'utf8'));
    this.text = '';
  }
}

/** Large bodies are written a slice at a time, cut at line ends. */
const SLICE = 1 << 20;

/** A text body: a literal block when it spans lines and holds nothing a block cannot, else quoted. */
function textBody(out: Out, text: string, indent: string): void {
  // Only line breaks: a block would read back as "" (YAML drops a block's trailing empty lines).
  const block = text.includes('\n') && /[^\n]/.test(text) && !NOT_LITERAL.test(text) && !(out.ascii && NON_ASCII.test(text));
  if (!block) {
    // A large body quoted (in ASCII, text past it is escaped) is made only when it is written.
    if (text.length <= SLICE) return out.str(` ${quoted(text, out.ascii)}\n`);
    return out.later(() => [Buffer.from(` ${quoted(text, out.ascii)}\n`, 'utf8')]);
  }
  let trailing = 0;
  while (text.charCodeAt(text.length - 1 - trailing) === 10) trailing++;
  const chomp = trailing === 0 ? '-' : trailing === 1 ? '' : '+';
  // A first line that starts with a space would be taken for deeper indentation, and Go's reader takes a
  // tab there for indentation and refuses it: say the indentation.
  const firstLine = /^\n*([ \t]?)/.exec(text)![1];
  out.str(` |${firstLine ? INDENT.length : ''}${chomp}\n`);
  if (text.length <= SLICE) out.str(text.replace(/^(?=[^\n])/gm, indent));
  else out.later(() => indentedSlices(text, indent));
  if (trailing === 0) out.str('\n');
}

/** A large text, indented, one slice (cut at a line end) at a time. */
function* indentedSlices(text: string, indent: string): Generator<Buffer> {
  for (let at = 0; at < text.length; ) {
    let end = Math.min(text.length, at + SLICE);
    if (end < text.length) {
      const lineEnd = text.indexOf('\n', end);
      end = lineEnd === -1 ? text.length : lineEnd + 1;
    }
    yield Buffer.from(text.slice(at, end).replace(/^(?=[^\n])/gm, indent), 'utf8');
    at = end;
  }
}

/** Bytes as `!!binary` base64 in 76-character lines (57 bytes each). */
function binaryBody(out: Out, bytes: Uint8Array, indent: string): void {
  if (bytes.length === 0) return out.str(' !!binary ""\n');
  out.str(' !!binary |\n');
  out.later(() => base64Lines(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), indent));
}

function* base64Lines(all: Buffer, indent: string): Generator<Buffer> {
  for (let at = 0; at < all.length; at += 57 * 1024) {
    const base64 = all.subarray(at, at + 57 * 1024).toString('base64');
    let lines = '';
    for (let i = 0; i < base64.length; i += 76) lines += `${indent}${base64.slice(i, i + 76)}\n`;
    yield Buffer.from(lines, 'utf8');
  }
}

/** A body: written as a literal block, quoted text or `!!binary`, never as a plain scalar. */
export class BodyNode {
  constructor(readonly value: string | Uint8Array) {}
}

export type Node = string | number | boolean | BodyNode | Node[] | { [key: string]: Node | undefined } | undefined;

/** Writes `key: value` lines for every defined entry of `map`. */
function mapping(out: Out, map: Record<string, Node | undefined>, indent: string): void {
  for (const [key, value] of Object.entries(map)) {
    if (value === undefined) continue;
    out.str(`${indent}${scalar(key, out.ascii)}:`);
    node(out, value, indent);
  }
}

function node(out: Out, value: Node, indent: string): void {
  if (typeof value === 'string') return out.str(` ${scalar(value, out.ascii)}\n`);
  if (typeof value === 'number') return out.str(` ${Number.isFinite(value) ? String(value) : '0'}\n`);
  if (typeof value === 'boolean') return out.str(` ${value}\n`);
  if (value === undefined) return out.str(' ""\n');
  if (value instanceof BodyNode) {
    return typeof value.value === 'string' ? textBody(out, value.value, indent + INDENT) : binaryBody(out, value.value, indent + INDENT);
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return out.str(' []\n');
    out.str('\n');
    for (const item of value) {
      out.str(`${indent}${INDENT}-`);
      node(out, item, indent + INDENT + INDENT);
    }
    return;
  }
  if (Object.keys(value).length === 0) return out.str(' {}\n');
  out.str('\n');
  mapping(out, value as Record<string, Node>, indent + INDENT);
}

/** A sequence item's lines after its first one, ready to write (see itemLines). */
export type ItemLines = readonly Part[];

/**
 * The lines of a sequence item after its first one (keys at column 6): bytes made now, and a large
 * body's bytes made whenever they are written (see Out). With `ascii`, every byte is ASCII (text
 * past ASCII is double-quoted with escapes, never a literal block), so every prefix of the output
 * is valid UTF-8.
 */
export function itemLines(map: Record<string, Node | undefined>, ascii = false): ItemLines {
  const out = new Out(ascii);
  mapping(out, map, ITEM_INDENT);
  return out.done();
}

/** One sequence item, `    - key: value` and then `lines`, as buffers to write in a row. */
export function* sequenceItem(key: string, value: number, lines: ItemLines): Generator<Buffer> {
  yield Buffer.from(`${ITEM_INDENT.slice(INDENT.length)}- ${scalar(key, true)}: ${value}\n`);
  for (const part of lines) {
    if (Buffer.isBuffer(part)) yield part;
    else yield* part();
  }
}
