/**
 * Joins a process's or socket's two directions to a duplex stream, both ways. An end is passed
 * on as an end (what is buffered still flows: the tail of a migration stream matters); an error
 * or an abrupt close of the duplex destroys the other side. For a socket, `from` and `to` are
 * the socket itself; for a child process, its stdout and stdin.
 */
import type { Duplex, Readable, Writable } from "node:stream";

export function joinStreams(from: Readable, to: Writable, stream: Duplex): void {
  from.pipe(stream);
  stream.pipe(to);
  const fail = () => {
    from.destroy();
    to.destroy();
    stream.destroy();
  };
  from.once("error", fail);
  to.once("error", fail);
  stream.once("error", fail);
  from.once("close", () => {
    if (!from.readableEnded) fail();
  });
  stream.once("close", () => (stream.readableEnded ? to.end() : fail()));
}
