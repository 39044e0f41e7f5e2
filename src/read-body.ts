/** Reads a whole request body, refusing one larger than `limit` bytes. */
import type { IncomingMessage } from 'node:http';
import { ProxyError } from './errors.js';

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      throw new ProxyError('body_too_large', `the request body is larger than ${limit} bytes (--max-body)`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
