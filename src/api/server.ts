/** Serves the API over HTTP (the edge: node:http through @hono/node-server). */
import { createAdaptorServer } from "@hono/node-server";
import type { IncomingMessage } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { EtherplaneError } from "../foundation/errors.js";
import type { createApi } from "./app.js";

/**
 * Connections waiting to be accepted, at most (the kernel caps it at net.core.somaxconn). Node's
 * default, 511, overflowed when 1,000 agents connected at once (a controller restart, a cluster
 * started): Linux drops the SYNs past it, and those agents' first renewals waited for TCP's SYN
 * retries (1 s, 2 s, 4 s...) long enough for their leases to expire (docs/benchmarks.md).
 */
export const LISTEN_BACKLOG = 4096;

export interface ApiServer {
  url: string;
  close(): Promise<void>;
}

export function startApiServer(
  app: ReturnType<typeof createApi>,
  options: {
    host: string;
    port: number;
    /** Serve HTTPS with this key and certificate chain (PEM); plain HTTP without. */
    tls?: { certPem: string; keyPem: string };
    /** HTTP upgrades (guest consoles) go here; without it they are refused. */
    upgrade?: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
  },
): Promise<ApiServer> {
  return new Promise((resolve, reject) => {
    const tls = options.tls;
    const server = createAdaptorServer({
      fetch: app.fetch,
      hostname: options.host,
      ...(tls
        ? {
            createServer: createHttpsServer,
            serverOptions: { cert: tls.certPem, key: tls.keyPem, minVersion: "TLSv1.2" as const },
          }
        : {}),
    });
    server.listen({ port: options.port, host: options.host, backlog: LISTEN_BACKLOG }, () => {
      const info = server.address() as AddressInfo;
      const host = info.family === "IPv6" ? `[${info.address}]` : info.address;
      resolve({
        url: `${tls ? "https" : "http"}://${host}:${info.port}`,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
    if (options.upgrade) server.on("upgrade", options.upgrade);
    server.once("error", (error: NodeJS.ErrnoException) => {
      const hint =
        error.code === "EADDRINUSE"
          ? `port ${options.port} is in use: is a controller already running? choose another with --listen`
          : error.message;
      reject(
        new EtherplaneError(
          "UNAVAILABLE",
          `cannot listen on ${options.host}:${options.port}: ${hint}`,
          { cause: error },
        ),
      );
    });
  });
}
