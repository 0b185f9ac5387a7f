/**
 * Wires the controller to real I/O: its SQLite store in the data directory and the HTTP API.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { createApi } from "../api/app.js";
import { consoleUpgradeHandler } from "../api/console-upgrade.js";
import { startApiServer, type ApiServer } from "../api/server.js";
import { ensureOwnTls, loadTlsFiles, servingNames, type ServingTls } from "../api/tls/tls-files.js";
import { EtherplaneError } from "../foundation/errors.js";
import { createLogger } from "../foundation/log.js";
import { errorMessage } from "../foundation/errors.js";
import { Controller, type ControllerLimits } from "../cluster/controller/controller.js";
import { openSqliteStore } from "../cluster/store/sqlite/index.js";
import { consoleWebSocketHandler, isWebSocketUpgrade } from "../web/console-websocket.js";
import { createWebServices } from "../web/web-services.js";

export interface StartedController {
  controller: Controller;
  server: ApiServer;
  /** The TLS the API serves, or null for plain HTTP. */
  tls: ServingTls | null;
  stop(): Promise<void>;
}

/** How the API is served: the controller's own CA, an admin's certificate, or plain HTTP. */
export type TlsChoice =
  { mode: "own" } | { mode: "files"; certFile: string; keyFile: string } | { mode: "off" };

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * The transport for a controller listening on `host`: TLS off loopback (its own CA unless
 * certificate files are given), plain HTTP on loopback (the quick start) unless `tls` asks for
 * TLS. Plain HTTP off loopback only with `insecureHttp`.
 */
export function chooseTls(
  host: string,
  flags: { certFile?: string; keyFile?: string; tls?: boolean; insecureHttp?: boolean },
): TlsChoice {
  if ((flags.certFile === undefined) !== (flags.keyFile === undefined))
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      "give both --tls-cert FILE and --tls-key FILE, or neither (the controller then makes its own CA)",
    );
  if (flags.insecureHttp && (flags.certFile !== undefined || flags.tls))
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      "--insecure-http serves plain HTTP: drop it, or drop --tls/--tls-cert",
    );
  if (flags.certFile !== undefined && flags.keyFile !== undefined)
    return { mode: "files", certFile: flags.certFile, keyFile: flags.keyFile };
  if (flags.insecureHttp) return { mode: "off" };
  if (flags.tls) return { mode: "own" };
  return isLoopback(host) ? { mode: "off" } : { mode: "own" };
}

/** How often the audit log's retention runs (and once at start). */
export const AUDIT_PRUNE_INTERVAL_MS = 3600_000;

export async function startController(options: {
  dataDir: string;
  host: string;
  port: number;
  /** Default: chooseTls(host, {}) (TLS with its own CA off loopback, plain HTTP on it). */
  tls?: TlsChoice;
  limits?: Partial<ControllerLimits>;
}): Promise<StartedController> {
  const log = createLogger("cluster:controller");
  fs.mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const choice = options.tls ?? chooseTls(options.host, {});
  const tls =
    choice.mode === "own"
      ? ensureOwnTls(path.join(options.dataDir, "tls"), servingNames(options.host), Date.now())
      : choice.mode === "files"
        ? loadTlsFiles(choice.certFile, choice.keyFile)
        : null;
  if (!tls && !isLoopback(options.host))
    log.warn(
      `serving plain HTTP on ${options.host}: tokens and consoles cross the network in clear; drop --insecure-http to serve TLS`,
    );
  // A data directory an older etherplane (or a person) made 0755: it holds the store and tokens.
  fs.chmodSync(options.dataDir, 0o700);
  const store = await openSqliteStore(path.join(options.dataDir, "controller.db"));
  const controller = new Controller(store, Date.now, options.limits);
  const prune = () =>
    controller.audit.prune().then(
      (count) => {
        if (count > 0) log.info(`audit retention: ${count} old entries removed`);
      },
      (error: unknown) => log.warn(`audit retention failed: ${errorMessage(error)}`),
    );
  await prune();
  const pruner = setInterval(() => void prune(), AUDIT_PRUNE_INTERVAL_MS).unref();
  // High availability: leases, fencing, failover (failover.ts).
  await controller.ha.restore(); // dead and fenced hosts stay so across a restart
  // Migrations a previous controller left running end once both hosts said which copy runs;
  // listening for their reports starts now, before the API serves them.
  void controller.migrationRecovery
    .recover()
    .catch((error: unknown) => log.error(`migration recovery: ${errorMessage(error)}`));
  controller.auth.caSha256 = tls?.caSha256 ?? null;
  const web = createWebServices(controller, createLogger("api:web"));
  const cliConsole = consoleUpgradeHandler(controller, createLogger("api:console"));
  const webConsole = consoleWebSocketHandler(controller, web.tickets, createLogger("api:console"));
  let server: ApiServer;
  try {
    server = await startApiServer(createApi({ controller, web }), {
      host: options.host,
      port: options.port,
      ...(tls ? { tls: { certPem: tls.certPem, keyPem: tls.keyPem } } : {}),
      upgrade: (request, socket, head) =>
        isWebSocketUpgrade(request)
          ? webConsole(request, socket, head)
          : cliConsole(request, socket, head),
    });
  } catch (error) {
    web.close();
    clearInterval(pruner);
    await controller.ha.stop();
    await store.close();
    throw error;
  }
  // Leases count from now, when agents can reach the API (the store, the routes and the TLS took
  // their time before), and the sweeps that declare hosts dead start with them.
  controller.agents.liveness.pardon();
  controller.ha.start();
  return {
    controller,
    server,
    tls,
    stop: async () => {
      clearInterval(pruner);
      await controller.ha.stop();
      controller.agents.watch.close();
      controller.consoles.closeAll();
      web.close();
      await server.close();
      await controller.audit.flush().catch((error: unknown) => {
        log.warn(
          `audit: the last summary of refused calls was not written: ${errorMessage(error)}`,
        );
      });
      await store.close();
    },
  };
}
