/**
 * Cassette name → file path. `cassettePath` checks a name's syntax (pure); `CassetteNames` then
 * finds where it really leads on disk, so that a symbolic link can neither take a name outside the
 * cassette folder nor give one file two identities.
 */
import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import { ProxyError, describeCause } from '../errors.js';
import { SingleFlight } from '../single-flight.js';

/** The longest name of one file or folder that common file systems take, in bytes. */
const MAX_NAME_BYTES = 255;

/** The longest path Linux takes, in bytes, counting its terminating NUL. */
const MAX_PATH_BYTES = 4096;

/**
 * The store keeps files next to a cassette (its lease `.<file>.lock`, takeover markers
 * `.<file>.lock.<16 hex digits>`, temp files `.<file>.<pid>.<n>.tmp`) whose names are at most this many
 * bytes longer than the cassette's: a cassette name must leave room for them, or it could be
 * recorded (and paid for) but never saved.
 */
export const SIDE_FILE_BYTES = 32;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function invalidName(name: string, problem: string, cause?: unknown): ProxyError {
  return new ProxyError('invalid_cassette_name', `invalid cassette name ${JSON.stringify(name)}: ${problem}`, { param: 'x-cassette', cause });
}

/**
 * Like go-vcr, a name may hold sub-folders (`suite/case` → `<dir>/suite/case.yaml`), but never an
 * absolute path, a `..` or `.` segment, a backslash, a control character, an empty segment, or a
 * segment too long for a file system to store.
 */
export function cassettePath(dir: string, name: string): string {
  const problem = nameProblem(name);
  if (problem) throw invalidName(name, problem);
  const root = path.resolve(dir);
  const file = path.resolve(root, `${name}.yaml`);
  // Belt and braces: the checks above already rule this out.
  if (!file.startsWith(root + path.sep)) throw invalidName(name, 'it leaves the cassette folder');
  return file;
}

/**
 * An `x-cassette` header value as a name. Node hands over header bytes as latin1 characters (one
 * per byte); names are read as UTF-8, so `x-cassette: café` sent as UTF-8 names `café.yaml`, and
 * bytes that are not UTF-8 are refused: no file system name could say what they mean.
 */
export function nameFromHeader(value: string): string {
  try {
    return UTF8.decode(Buffer.from(value, 'latin1'));
  } catch (err) {
    throw invalidName(value, 'it is not valid UTF-8', err);
  }
}

function nameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.length > 200) return 'it is longer than 200 characters';
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(name)) return 'it holds a control character';
  // A lone surrogate (possible in JSON) has no UTF-8 form: the file would get another name.
  if (/\p{Cs}/u.test(name)) return 'it is not valid Unicode (a lone surrogate)';
  if (name.includes('\\')) return 'it holds a backslash';
  if (name.startsWith('/')) return 'it is an absolute path';
  if (/^[A-Za-z]:/.test(name)) return 'it is an absolute path';
  if (name.endsWith('.yaml')) return 'leave out the .yaml extension';
  const segments = name.split('/');
  for (const segment of segments) {
    if (segment === '') return 'it has an empty path segment';
    if (segment === '.' || segment === '..') return `it has a "${segment}" segment`;
    if (Buffer.byteLength(segment) > MAX_NAME_BYTES) return `the folder name "${segment.slice(0, 20)}…" is longer than ${MAX_NAME_BYTES} bytes, the most a file system stores`;
  }
  const fileBytes = Buffer.byteLength(`${segments.at(-1)}.yaml`);
  if (fileBytes + SIDE_FILE_BYTES > MAX_NAME_BYTES) {
    return `its file name would be ${fileBytes} bytes in UTF-8; the most is ${MAX_NAME_BYTES - SIDE_FILE_BYTES} (a file system stores ${MAX_NAME_BYTES}, and the proxy's temp and lease files next to a cassette need ${SIDE_FILE_BYTES} more)`;
  }
  return undefined;
}

/** How long a name's real path is reused before the disk is asked again. */
const RESOLVED_FOR_MS = 1000;

/** Names come from clients: at most this many resolutions are remembered. */
const MAX_RESOLVED = 4096;

/**
 * Names → real paths, for one cassette folder. The real path is what the proxy reads and writes,
 * so one file has one identity whatever name (or symlinked folder) reached it, and a name that a
 * symbolic link takes outside the folder is refused before anything is forwarded. The folder's
 * real path is asked once it exists; each name's at most once a second.
 */
export class CassetteNames {
  private root: string | undefined;
  private readonly resolved = new Map<string, { file: string; at: number }>();
  private readonly resolving = new SingleFlight<string, string>();

  constructor(private readonly dir: string) {}

  /** The real path of cassette `name`; throws `invalid_cassette_name`, or `cassette_unavailable` when the disk could not say. */
  async resolve(name: string): Promise<string> {
    const hit = this.resolved.get(name);
    if (hit && performance.now() - hit.at < RESOLVED_FOR_MS) return hit.file;
    // Concurrent requests for one name share one look-up.
    return this.resolving.run(name, () => this.lookUp(name));
  }

  private async lookUp(name: string): Promise<string> {
    const file = cassettePath(this.dir, name);
    const root = this.root ?? (await this.realRoot(name));
    const real = await realPath(file, name);
    if (!real.startsWith(root + path.sep)) throw invalidName(name, 'a symbolic link in the cassette folder takes it outside the folder');
    if (Buffer.byteLength(path.basename(real)) + SIDE_FILE_BYTES > MAX_NAME_BYTES || Buffer.byteLength(real) + SIDE_FILE_BYTES >= MAX_PATH_BYTES) {
      throw invalidName(name, `its real path (${Buffer.byteLength(real)} bytes) is too long to store with the files the proxy keeps next to it`);
    }
    if (this.resolved.size >= MAX_RESOLVED) this.resolved.clear();
    this.resolved.set(name, { file: real, at: performance.now() });
    return real;
  }

  private async realRoot(name: string): Promise<string> {
    const root = path.resolve(this.dir);
    try {
      // Kept once the folder exists (recording creates it): it is then the folder's real path for good.
      this.root = await realpath(root);
      return this.root;
    } catch {
      return realPath(root, name);
    }
  }
}

/**
 * `target` with every symbolic link resolved: the real path of its deepest part that exists, plus
 * the parts that do not exist yet (recording creates them there). A link that points nowhere, or
 * in a loop, is refused: what it would create is unknown.
 */
async function realPath(target: string, name: string): Promise<string> {
  const missing: string[] = [];
  for (let at = target, retries = 0; ; ) {
    try {
      return path.join(await realpath(at), ...missing);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw invalidName(name, 'it leads through a loop of symbolic links', err);
      if (code === 'ENAMETOOLONG') throw invalidName(name, 'its path is too long to store', err);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') {
        throw new ProxyError('cassette_unavailable', `cassette ${JSON.stringify(name)} could not be looked up just now (${describeCause(err)}); try again`, { cause: err });
      }
      const info = await lstat(at).catch(() => undefined);
      if (info) {
        // Created since realpath looked (a save renames a cassette into place): look again.
        if (!info.isSymbolicLink() && retries++ < 3) continue;
        throw invalidName(name, 'it leads through a symbolic link that points nowhere', err);
      }
    }
    const parent = path.dirname(at);
    if (parent === at) return path.join(at, ...missing);
    missing.unshift(path.basename(at));
    at = parent;
  }
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
