/**
 * An NBD server exposing one BlockDevice on a Unix socket, so that QEMU, qemu-img and qemu-io use
 * an AoE volume (through the userspace initiator) on a host without kernel modules.
 *
 * Fixed newstyle handshake with NBD_OPT_GO/INFO/EXPORT_NAME/LIST/ABORT, simple replies only
 * (NBD_OPT_STRUCTURED_REPLY is refused; clients fall back). Requests on a connection run
 * concurrently and are answered as they complete, in any order (proto.md §Transmission: replies
 * match requests by handle). The wire format is in protocol.ts, each connection's state machine
 * in nbd-connection.ts; this file listens, accepts (bounded), reports stats and closes.
 *
 * Bounds (server-limits.ts): requests executing per connection, payload bytes executing, reply
 * bytes queued in the socket (over any of them the socket is paused until they drain), option
 * count and handshake time, connections per server, and the time close() waits for in-flight
 * requests.
 */
import * as net from "node:net";
import { EtherplaneError, errorMessage } from "../../foundation/errors.js";
import { NbdConnection } from "./nbd-connection.js";
import {
  createServerContext,
  type NbdServerOptions,
  type NbdServerStats,
} from "./server-context.js";
import { nbdServerLimits } from "./server-limits.js";
import { removeStaleSocket } from "./stale-socket.js";

export type { NbdServerOptions, NbdServerStats } from "./server-context.js";
export { nbdServerLimits } from "./server-limits.js";

export interface NbdServer {
  readonly socketPath: string;
  /** Stops listening, lets in-flight requests finish (bounded), closes clients. Idempotent. */
  close(): Promise<void>;
  stats(): NbdServerStats;
}

export async function startNbdServer(options: NbdServerOptions): Promise<NbdServer> {
  const { device, socketPath } = options;
  const ctx = createServerContext(options);
  const { exportName, log } = ctx;

  await removeStaleSocket(socketPath);
  const connections = new Set<NbdConnection>();
  let closing: Promise<void> | undefined;
  // allowHalfOpen: a client that shuts down its sending side still gets its pending replies.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    if (closing || connections.size >= nbdServerLimits.connectionsMax) {
      log.warn("refusing connection", { open: connections.size, closing: Boolean(closing) });
      socket.destroy();
      return;
    }
    ctx.counters.connectionsTotal++;
    const connection = new NbdConnection(socket, ctx);
    connections.add(connection);
    void connection.closed.then(() => connections.delete(connection));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (cause) =>
      reject(new EtherplaneError("IO_ERROR", `cannot listen on ${socketPath}`, { cause })),
    );
    server.listen(socketPath, () => resolve());
  });
  server.on("error", (error) => log.error("server socket error", { error: errorMessage(error) }));
  log.info("serving", { socketPath, exportName, sizeBytes: device.sizeBytes });

  return {
    socketPath,
    stats: () => {
      let requestsInFlight = 0;
      for (const connection of connections) requestsInFlight += connection.requestsInFlight;
      return { ...ctx.counters, connectionsOpen: connections.size, requestsInFlight };
    },
    close: () => {
      closing ??= (async () => {
        // server.close() stops accepting now; its callback waits for every connection to end.
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const connection of connections) connection.shutdown();
        await stopped;
        log.info("stopped", { socketPath });
      })();
      return closing;
    },
  };
}
