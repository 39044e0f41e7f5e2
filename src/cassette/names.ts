/** Cassette name → file path, refusing any name that could leave the cassette folder. */
import path from 'node:path';
import { ProxyError } from '../errors.js';

/**
 * Like go-vcr, a name may hold sub-folders (`suite/case` → `<dir>/suite/case.yaml`), but never an
 * absolute path, a `..` or `.` segment, a backslash, a control character or an empty segment.
 */
export function cassettePath(dir: string, name: string): string {
  const problem = nameProblem(name);
  if (problem) {
    throw new ProxyError('invalid_cassette_name', `invalid cassette name ${JSON.stringify(name)}: ${problem}`, {
      param: 'x-cassette',
    });
  }
  const root = path.resolve(dir);
  const file = path.resolve(root, `${name}.yaml`);
  // Belt and braces: the checks above already rule this out.
  if (!file.startsWith(root + path.sep)) {
    throw new ProxyError('invalid_cassette_name', `invalid cassette name ${JSON.stringify(name)}: it leaves the cassette folder`, {
      param: 'x-cassette',
    });
  }
  return file;
}

function nameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.length > 200) return 'it is longer than 200 characters';
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(name)) return 'it holds a control character';
  if (name.includes('\\')) return 'it holds a backslash';
  if (name.startsWith('/')) return 'it is an absolute path';
  if (/^[A-Za-z]:/.test(name)) return 'it is an absolute path';
  if (name.endsWith('.yaml')) return 'leave out the .yaml extension';
  for (const segment of name.split('/')) {
    if (segment === '') return 'it has an empty path segment';
    if (segment === '.' || segment === '..') return `it has a "${segment}" segment`;
  }
  return undefined;
}
const shown = new Map<string, string>();

/** A cassette path as people want to read it: relative to the working folder when inside it. */
export function displayPath(file: string): string {
  let text = shown.get(file);
  if (text === undefined) {
    const relative = path.relative(process.cwd(), file);
    text = relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
    if (shown.size < 4096) shown.set(file, text);
  }
  return text;
}
