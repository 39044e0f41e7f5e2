/** Reads a whole request body, refusing one larger than `limit` bytes. */
import type { IncomingMessage } from 'node:http';
import { ProxyError } from './errors.js';

/** The answer to a body over `--max-body`, wherever the proxy finds it out. */
export function bodyTooLarge(limit: number): ProxyError {
  return new ProxyError('body_too_large', `the request body is larger than ${limit} bytes (--max-body)`);
}

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.resume(); // drained, not kept: the answer says why
        reject(bodyTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.once('error', reject);
  });
}
