/**
 * AWS event stream framing (`application/vnd.amazon.eventstream`, Bedrock's streamed answers):
 * binary messages, each starting with its total length as a 4-byte big-endian integer (then the
 * headers' length, a checksum, headers, payload and a checksum). Record mode times each message as
 * it arrives, replay sends them one by one; only boundaries are found, bytes are never changed.
 */
import { splitWith } from './sse.js';

export function isAwsEventStream(contentType: string | string[] | undefined): boolean {
  const value = Array.isArray(contentType) ? contentType[0] : contentType;
  return value !== undefined && value.toLowerCase().startsWith('application/vnd.amazon.eventstream');
}

/** Finds message ends across chunks from each message's length prefix. */
export class MessageBoundaries {
  private readonly prefix = new Uint8Array(4);
  private prefixBytes = 0;
  /** Bytes of the current message still to come after its length prefix. */
  private remaining = 0;

  scan(chunk: Uint8Array, onEnd: (endIndex: number) => void): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - i);
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) onEnd(i);
        continue;
      }
      const take = Math.min(4 - this.prefixBytes, chunk.length - i);
      this.prefix.set(chunk.subarray(i, i + take), this.prefixBytes);
      this.prefixBytes += take;
      i += take;
      if (this.prefixBytes < 4) return;
      this.prefixBytes = 0;
      const total = new DataView(this.prefix.buffer).getUint32(0);
      this.remaining = total - 4;
      // A length shorter than its own prefix is not a message: cut there, and read on.
      if (this.remaining <= 0) {
        this.remaining = 0;
        onEnd(i);
      }
    }
  }
}

/** Splits a whole body into its messages; a trailing partial message comes last. */
export function splitMessages(body: Uint8Array): Uint8Array[] {
  return splitWith(body, new MessageBoundaries());
}
