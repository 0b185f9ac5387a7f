/**
 * Framing for a byte stream: the received bytes not yet parsed, taken from the front in exact
 * message-sized pieces. Holds only what the peer already sent (the reader bounds that by pausing).
 */
import { assert } from "../../foundation/assert.js";

/** Received bytes not yet parsed, kept as the chunks that arrived and taken from the front. */
export class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The next `n` bytes; a view of the received chunk when it holds them all. */
  take(n: number): Buffer {
    assert(n <= this.length, `take ${n} of ${this.length} queued bytes`);
    this.length -= n;
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n); // n <= bytes already received: bounded by real input
    for (let done = 0; done < n;) {
      const chunk = this.chunks[0];
      assert(chunk !== undefined, "queue holds the bytes it counts");
      const count = Math.min(chunk.length, n - done);
      chunk.copy(out, done, 0, count);
      if (count === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(count);
      done += count;
    }
    return out;
  }

  clear(): void {
    this.chunks = [];
    this.length = 0;
  }
}
