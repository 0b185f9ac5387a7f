/**
 * Wires the controller to real I/O: its SQLite store in the data directory and the HTTP API.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { createApi } from "../../api/app.js";
import { consoleUpgradeHandler } from "../../api/console-upgrade.js";
import { startApiServer, type ApiServer } from "../../api/server.js";
import { createLogger } from "../../foundation/log.js";
import { Controller } from "../controller/controller.js";
import { openSqliteStore } from "../store/sqlite/index.js";
import { consoleWebSocketHandler, isWebSocketUpgrade } from "../../web/console-websocket.js";
import { createWebServices } from "../../web/web-services.js";

export interface StartedController {
  controller: Controller;
  server: ApiServer;
  stop(): Promise<void>;
}

export async function startController(options: {
  dataDir: string;
  host: string;
  port: number;
}): Promise<StartedController> {
  fs.mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const store = await openSqliteStore(path.join(options.dataDir, "controller.db"));
  const controller = new Controller(store);
  const web = createWebServices(controller, createLogger("api:web"));
  const cliConsole = consoleUpgradeHandler(controller, createLogger("api:console"));
  const webConsole = consoleWebSocketHandler(controller, web.tickets, createLogger("api:console"));
  let server: ApiServer;
  try {
    server = await startApiServer(createApi({ controller, web }), {
      host: options.host,
      port: options.port,
      upgrade: (request, socket, head) =>
        isWebSocketUpgrade(request)
          ? webConsole(request, socket, head)
          : cliConsole(request, socket, head),
    });
  } catch (error) {
    web.close();
    await store.close();
    throw error;
  }
  return {
    controller,
    server,
    stop: async () => {
      controller.consoles.closeAll();
      web.close();
      await server.close();
      await store.close();
    },
  };
}
