/**
 * Joins two streams both ways: what one side reads the other writes. The one way the migration
 * code joins a socket, a child's stdin/stdout and the agents' migration stream (qemu-migration.ts,
 * xen-migration.ts, xl-migrate-transport.ts):
 * - an end is passed on as an end, a half-close: what is buffered still flows (the tail of a
 *   migration stream matters) and the other direction goes on until it ends too;
 * - an error on any of the streams, or a side that closes before its end (a cut, not an end),
 *   destroys every stream of both sides;
 * - bounded: `pipe` stops reading a side while the other cannot take more (backpressure), so no
 *   more than the streams' own high-water marks is held here.
 */
import { Duplex, type Readable, type Writable } from "node:stream";
import { EtherplaneError } from "../foundation/errors.js";

/** One side: a duplex (a socket), or what it reads from and writes to (a child's stdout, stdin). */
export type StreamSide = Duplex | { readable: Readable; writable: Writable };

/** How a join ended: undefined once both directions ended and were written out, else the error. */
export type JoinDone = (error: Error | undefined) => void;

function ends(side: StreamSide): { readable: Readable; writable: Writable } {
  return side instanceof Duplex ? { readable: side, writable: side } : side;
}

export function joinStreams(
  a: StreamSide,
  b: StreamSide,
  onDone: JoinDone = () => undefined,
): void {
  const x = ends(a);
  const y = ends(b);
  const streams = [
    ...new Set<Readable | Writable>([x.readable, x.writable, y.readable, y.writable]),
  ];
  let settled = false;
  const settle = (error: Error | undefined) => {
    if (settled) return;
    settled = true;
    onDone(error);
  };
  const fail = (error: Error) => {
    for (const stream of streams) stream.destroy();
    settle(error);
  };
  // `on`, not `once`: a second error from a stream being destroyed is this join's too.
  for (const stream of streams) stream.on("error", fail);
  let finished = 0;
  const direction = (from: Readable, to: Writable) => {
    from.pipe(to); // ends `to` when `from` ends
    from.once("close", () => {
      if (!from.readableEnded)
        fail(new EtherplaneError("IO_ERROR", "a joined stream closed before its end"));
    });
    to.once("finish", () => {
      finished += 1;
      if (finished === 2) settle(undefined);
    });
  };
  direction(x.readable, y.writable);
  direction(y.readable, x.writable);
}
