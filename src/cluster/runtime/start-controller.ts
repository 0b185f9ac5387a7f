/**
 * Wires the controller to real I/O: its SQLite store in the data directory and the HTTP API.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { createApi } from "../../api/app.js";
import { consoleUpgradeHandler } from "../../api/console-upgrade.js";
import { startApiServer, type ApiServer } from "../../api/server.js";
import { createLogger } from "../../foundation/log.js";
import { errorMessage } from "../../foundation/errors.js";
import { Controller, type ControllerLimits } from "../controller/controller.js";
import { openSqliteStore } from "../store/sqlite/index.js";

export interface StartedController {
  controller: Controller;
  server: ApiServer;
  stop(): Promise<void>;
}

/** How often the audit log's retention runs (and once at start). */
export const AUDIT_PRUNE_INTERVAL_MS = 3600_000;

export async function startController(options: {
  dataDir: string;
  host: string;
  port: number;
  limits?: Partial<ControllerLimits>;
}): Promise<StartedController> {
  const log = createLogger("cluster:controller");
  fs.mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
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
  let server: ApiServer;
  try {
    server = await startApiServer(createApi({ controller }), {
      host: options.host,
      port: options.port,
      upgrade: consoleUpgradeHandler(controller, createLogger("api:console")),
    });
  } catch (error) {
    clearInterval(pruner);
    await store.close();
    throw error;
  }
  return {
    controller,
    server,
    stop: async () => {
      clearInterval(pruner);
      controller.consoles.closeAll();
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
