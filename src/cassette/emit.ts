/**
 * The cassette writer's YAML emitter. An interaction has a fixed shape, so it is written directly
 * (several times faster than a general YAML dumper, which matters on the recording path): keys in
 * go-vcr's order, scalars plain when they cannot be misread, otherwise double-quoted with JSON
 * escapes (valid YAML), multi-line text bodies as literal blocks (readable SSE streams), and bytes
 * that are not UTF-8 as `!!binary` base64. The round-trip property test reads its output back with
 * the loader and with plain js-yaml.
 */

const INDENT = '  ';

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
/** Text a literal block cannot hold as is: CR (a reader folds CRLF), control and special characters. */
// eslint-disable-next-line no-control-regex
const NOT_LITERAL = /[\r\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/;

export function scalar(text: string): string {
  const plain = PLAIN.test(text) && !text.endsWith(' ') && !text.endsWith(':') && !text.includes(': ') && !NOT_A_STRING.test(text);
  return plain ? text : quoted(text);
}

/** Single quotes for printable one-line text (only `'` is doubled), double quotes with escapes otherwise. */
function quoted(text: string): string {
  if (!text.includes('\n') && !text.includes('\t') && !NOT_LITERAL.test(text)) return `'${text.replaceAll("'", "''")}'`;
  return JSON.stringify(text).replace(NEEDS_ESCAPE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A text body: a literal block when it spans lines and holds nothing a block cannot, else quoted. */
function textBody(text: string, indent: string): string {
  // Only line breaks: a block would read back as "" (YAML drops a block's trailing empty lines).
  if (!text.includes('\n') || !/[^\n]/.test(text) || NOT_LITERAL.test(text)) return ` ${quoted(text)}\n`;
  const trailing = /\n*$/.exec(text)![0].length;
  const chomp = trailing === 0 ? '-' : trailing === 1 ? '' : '+';
  // A first line that starts with a space would be taken for deeper indentation: say the indentation.
  const firstLine = /^\n*( ?)/.exec(text)![1];
  const header = `|${firstLine ? INDENT.length : ''}${chomp}`;
  const content = text.replace(/^(?=[^\n])/gm, indent);
  return ` ${header}\n${content}${trailing === 0 ? '\n' : ''}`;
}

/** Bytes as `!!binary` base64 in 76-character lines. */
function binaryBody(bytes: Uint8Array, indent: string): string {
  if (bytes.length === 0) return ' !!binary ""\n';
  const base64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  let out = ' !!binary |\n';
  for (let i = 0; i < base64.length; i += 76) out += `${indent}${base64.slice(i, i + 76)}\n`;
  return out;
}


/** A body: written as a literal block, quoted text or `!!binary`, never as a plain scalar. */
export class BodyNode {
  constructor(readonly value: string | Uint8Array) {}
}

export type Node = string | number | boolean | BodyNode | Node[] | { [key: string]: Node | undefined } | undefined;

/** Writes `key: value` lines for every defined entry of `map`, in its key order. */
export function mapping(map: Record<string, Node | undefined>, indent: string): string {
  let out = '';
  for (const [key, value] of Object.entries(map)) {
    if (value === undefined) continue;
    out += `${indent}${scalar(key)}:${value_(value, indent)}`;
  }
  return out;
}

function value_(value: Node, indent: string): string {
  if (typeof value === 'string') return ` ${scalar(value)}\n`;
  if (typeof value === 'number') return ` ${Number.isFinite(value) ? String(value) : '0'}\n`;
  if (typeof value === 'boolean') return ` ${value}\n`;
  if (value === undefined) return ' ""\n';
  if (value instanceof BodyNode) return typeof value.value === 'string' ? textBody(value.value, indent + INDENT) : binaryBody(value.value, indent + INDENT);
  if (Array.isArray(value)) {
    if (value.length === 0) return ' []\n';
    return `\n${value.map((item) => `${indent}${INDENT}-${value_(item, indent + INDENT + INDENT)}`).join('')}`;
  }
  if (Object.keys(value).length === 0) return ' {}\n';
  return `\n${mapping(value as Record<string, Node>, indent + INDENT)}`;
}

/** One sequence item `- key: …` whose first key sits on the dash line. */
export function sequenceItem(map: Record<string, Node | undefined>): string {
  const text = mapping(map, INDENT);
  return `-${text.slice(INDENT.length - 1)}`;
}
