/**
 * The response tee: the copy of an upstream's answer for the cassette, made beside the forwarder's
 * pipe without slowing or changing what the client gets; the decoders that turn an encoded copy
 * into text redaction can read; and the collector that holds the copy's bytes.
 */
import type { IncomingMessage } from 'node:http';
import type { Transform } from 'node:stream';
import zlib from 'node:zlib';
import { MAX_CASSETTE_BYTES } from '../storage/backend.js';
import { describeCause } from '../errors.js';
import type { StreamFraming } from '../providers/profile.js';

type Decoder = Transform & zlib.Zlib;

/** The content codings the recording decodes (Node joins repeated headers, so stacked codings read `gzip, gzip`). */
const DECODERS: Partial<Record<string, () => Decoder>> = {
  gzip: () => zlib.createGunzip(),
  'x-gzip': () => zlib.createGunzip(),
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
};

/**
 * A second try, as raw DEFLATE, where servers are commonly sloppy: `deflate` sent without its
 * zlib wrapper; gzip whose 8-byte trailer (a checksum and length) is cut off, while the DEFLATE
 * data it wraps is whole. `start` finds where the DEFLATE data begins; at most `after` bytes may
 * follow its end (a gzip body with a whole trailer that failed has a bad checksum: refused).
 */
const SECOND_TRY: Partial<Record<string, { start: (bytes: Buffer) => number | undefined; after: number }>> = {
  deflate: { start: () => 0, after: 0 },
  gzip: { start: gzipHeaderLength, after: 7 },
  'x-gzip': { start: gzipHeaderLength, after: 7 },
};

/** The length of a gzip member's header (RFC 1952), when `bytes` begins with a whole one. */
function gzipHeaderLength(bytes: Buffer): number | undefined {
  if (bytes.length < 10 || bytes[0] !== 0x1f || bytes[1] !== 0x8b || bytes[2] !== 8) return undefined;
  const flags = bytes[3]!;
  let at = 10;
  if (flags & 4) at = at + 2 <= bytes.length ? at + 2 + bytes.readUInt16LE(at) : Infinity; // FEXTRA
  if (flags & 8) at = bytes.indexOf(0, at) + 1 || Infinity; // FNAME
  if (flags & 16) at = bytes.indexOf(0, at) + 1 || Infinity; // FCOMMENT
  if (flags & 2) at += 2; // FHCRC
  return at <= bytes.length ? at : undefined;
}

/** The copy of a response for the cassette, or why there is none: a body the tee could not decode is never stored. */
export type TeeResult = { bytes: Buffer; decoded: boolean } | { undecodable: string };

/**
 * The recording side of a response: copies the bytes as the pipe passes them, decodes an encoded
 * body on the side, and notes when each event of a stream arrived. A body it cannot decode whole is not
 * kept as sent either: redaction could not see inside it, so a credential it echoes would reach
 * the disk compressed.
 */
export class ResponseTee {
  readonly done: Promise<TeeResult>;
  eventOffsetsMs: number[] | undefined;

  constructor(
    source: IncomingMessage,
    readonly headersAt: bigint,
    /** How the answer is framed, when it is a stream: each event's arrival is noted. */
    framing: StreamFraming | undefined,
  ) {
    const encoding = String(source.headers['content-encoding'] ?? '').trim().toLowerCase();
    const plain = encoding === '' || encoding === 'identity';
    const makeDecoder = DECODERS[encoding];
    // With a known length the copy is made once, in place; chunks are let go as they arrive.
    const declared = Number(source.headers['content-length']);
    const length = Number.isInteger(declared) && declared >= 0 ? declared : undefined;
    let raw: ByteCollector | undefined = makeDecoder ? new ByteCollector(length) : undefined;
    let decodedChunks = new ByteCollector(makeDecoder ? undefined : length);
    let boundaries: ReturnType<StreamFraming['boundaries']> | undefined;
    /** Starts the decoded copy (again, on a second try: what the first one decoded is dropped). */
    const restart = (): void => {
      boundaries = framing?.boundaries();
      if (framing) this.eventOffsetsMs = [];
    };
    restart();
    const onDecoded = (chunk: Buffer): void => {
      decodedChunks.push(chunk);
      if (!boundaries) return;
      const at = Number(process.hrtime.bigint() - headersAt) / 1e6;
      boundaries.scan(chunk, () => this.eventOffsetsMs!.push(Math.round(at * 1000) / 1000));
    };

    this.done = new Promise((resolve, reject) => {
      if (!plain && !makeDecoder) {
        resolve({ undecodable: `cassette-proxy does not decode the content coding "${encoding}"` });
        return;
      }
      // The copy runs inside the response's events: a throw (a body too large for one buffer) fails
      // the copy, not the process, and the client's stream goes on.
      let failed = false;
      const copying =
        <T extends unknown[]>(step: (...args: T) => void) =>
        (...args: T): void => {
          if (failed) return;
          try {
            step(...args);
          } catch (err) {
            failed = true;
            reject(err);
          }
        };
      source.on('error', reject);
      // Settles even when the response is destroyed without an error (e.g. when the exchange failed).
      source.on('close', () => {
        if (!source.readableEnded) reject(new Error('the upstream response closed before it ended'));
      });
      if (!makeDecoder) {
        source.on('data', copying(onDecoded));
        source.on('end', copying(() => resolve({ bytes: decodedChunks.take(), decoded: false })));
        return;
      }
      const undecodable = (why: string): void => {
        failed = true;
        raw = undefined;
        resolve({ undecodable: why });
      };
      let decoder: Decoder | undefined;
      let retried = false;
      /** Decodes with `next` from now on; on a second try, fed first with the bytes so far from `start`. */
      const decodeWith = (next: Decoder, second?: { start: number; after: number }): void => {
        decoder = next;
        next.on('data', copying(onDecoded));
        next.on(
          'end',
          copying(() => {
            // bytesWritten counts the input the decoder used: up to the end of the DEFLATE data.
            const trailing = second ? raw!.size - second.start - next.bytesWritten : 0;
            if (trailing > (second?.after ?? 0)) undecodable(`${trailing} bytes follow the end of the compressed data`);
            else resolve({ bytes: decodedChunks.take(), decoded: true });
          }),
        );
        next.on(
          'error',
          copying((err: Error) => {
            if (decoder !== next) return;
            const second = retried ? undefined : SECOND_TRY[encoding];
            const start = second?.start(raw!.peek());
            if (!second || start === undefined) return undecodable(describeCause(err));
            retried = true;
            decodedChunks = new ByteCollector();
            restart();
            decodeWith(zlib.createInflateRaw(), { start, after: second.after });
          }),
        );
        if (second) next.write(raw!.peek().subarray(second.start));
        if (source.readableEnded) next.end();
      };
      source.on(
        'data',
        copying((chunk: Buffer) => {
          raw!.push(chunk);
          decoder!.write(chunk);
        }),
      );
      source.on(
        'end',
        copying(() => {
          // No body at all (a HEAD, a 204 or 304 naming its coding): nothing to decode, nothing to hide.
          if (raw!.size === 0) resolve({ bytes: raw!.take(), decoded: false });
          else decoder!.end();
        }),
      );
      decodeWith(makeDecoder());
    });
    // Read only when the client got the whole answer; otherwise its failure is the client's cut.
    this.done.catch(() => undefined);
  }
}

/**
 * Collects a body's bytes into one buffer as they arrive: sized from Content-Length when there is
 * one (one copy, no join at the end), grown by doubling otherwise.
 */
class ByteCollector {
  private buffer: Buffer;
  private length = 0;

  constructor(private readonly expected?: number) {
    // A declared length is believed up to the largest cassette (a larger body could not be saved
    // anyway): one buffer, no copies. Memory an upstream declares and never sends is reserved,
    // not used (a large allocation's pages are only committed as bytes arrive).
    this.buffer = Buffer.allocUnsafe(Math.max(0, Math.min(expected ?? 16 * 1024, MAX_CASSETTE_BYTES)));
  }

  push(chunk: Buffer): void {
    const needed = this.length + chunk.length;
    if (needed > this.buffer.length) {
      // Past the reservation, doubling; up to the declared length at once when it says more will come.
      const declared = this.expected !== undefined && needed <= this.expected ? this.expected : 0;
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, needed, declared));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    chunk.copy(this.buffer, this.length);
    this.length += chunk.length;
  }

  get size(): number {
    return this.length;
  }

  /** The bytes so far, kept. */
  peek(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  take(): Buffer {
    const whole = this.buffer.subarray(0, this.length);
    this.buffer = Buffer.alloc(0);
    this.length = 0;
    return whole;
  }
}
