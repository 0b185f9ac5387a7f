/** Two connected in-memory Duplex streams: what one writes, the other reads (a socketpair). */
import { Duplex } from "node:stream";

export function duplexPair(): [Duplex, Duplex] {
  const ends: Duplex[] = [];
  const make = (peer: () => Duplex | undefined) =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        peer()?.push(chunk);
        callback();
      },
      final(callback) {
        peer()?.push(null);
        callback();
      },
      destroy(error, callback) {
        const other = peer();
        if (other && !other.destroyed) other.destroy();
        callback(error);
      },
    });
  const a = make(() => ends[1]);
  const b = make(() => ends[0]);
  ends.push(a, b);
  return [a, b];
}
