/** Reads a whole request body, refusing one larger than `limit` bytes; one above DIGEST_ABOVE is digested as it arrives. */
import { createHash, type Hash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ProxyError } from './errors.js';

/**
 * Above this many bytes a request body takes part in matching by its SHA-256 alone, byte for byte
 * (docs/matching.md): it is never parsed, and in replay never held whole. JSON.parse of 8 MiB
 * holds the event loop for tens of milliseconds; an LLM request is rarely larger.
 */
export const DIGEST_ABOVE = 8 * 1024 * 1024;

/** A body above DIGEST_ABOVE: its size and SHA-256, and its chunks when it may still be forwarded. */
export interface DigestedBody {
  kind: 'digest';
  size: number;
  sha256: string;
  chunks?: Buffer[];
}

/** The answer to a body over `--max-body`, wherever the proxy finds it out. */
export function bodyTooLarge(limit: number): ProxyError {
  return new ProxyError('body_too_large', `the request body is larger than ${limit} bytes (--max-body)`);
}

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return (await readBodyForMatching(req, limit, { digestAbove: Infinity, keep: true })) as Buffer;
}

/**
 * The body as bytes, or above `digestAbove` as a DigestedBody, hashed chunk by chunk as it
 * arrives; its chunks are kept only with `keep` (to forward it after a miss), and never joined.
 */
export function readBodyForMatching(req: IncomingMessage, limit: number, { digestAbove = DIGEST_ABOVE, keep }: { digestAbove?: number; keep: boolean }): Promise<Buffer | DigestedBody> {
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    let hash: Hash | undefined;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.resume(); // drained, not kept: the answer says why
        reject(bodyTooLarge(limit));
        return;
      }
      if (hash) hash.update(chunk);
      if (!hash || keep) chunks.push(chunk);
      if (!hash && size > digestAbove) {
        hash = createHash('sha256');
        for (const held of chunks) hash.update(held);
        if (!keep) chunks = [];
      }
    };
    req.on('data', onData);
    req.once('end', () => {
      if (hash) resolve({ kind: 'digest', size, sha256: hash.digest('hex'), chunks: keep ? chunks : undefined });
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    });
    req.once('error', reject);
  });
}
