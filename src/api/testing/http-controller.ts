/**
 * The real controller over HTTP on loopback for one `describe` of API tests: started in a fresh
 * data folder (a real SQLite file) with an admin token before its tests, stopped and the folder
 * removed after them. Calls go as any HTTP client's would (test/lab/api-caller.ts), as the
 * admin unless told.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before } from "node:test";
import { apiCaller, type ApiCaller } from "../../../test/lab/api-caller.js";
import type { ControllerLimits } from "../../cluster/controller/controller.js";
import { startController, type StartedController } from "../../daemon/start-controller.js";

export interface HttpController extends ApiCaller {
  /** Set once the `before` hook ran. */
  readonly started: StartedController;
  readonly dir: string;
  /** The admin's token. */
  readonly admin: string;
}

/** Call inside a `describe`: its hooks go there. `prefix` names the temporary folder. */
export function httpController(
  prefix: string,
  limits: Partial<ControllerLimits> = {},
): HttpController {
  let dir = "";
  let started: StartedController | undefined;
  let admin = "";
  const need = () => {
    if (!started) throw new Error("the controller is not started yet (use it inside a test)");
    return started;
  };
  const caller = apiCaller(
    () => need().server.url,
    () => admin,
  );
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    started = await startController({ dataDir: dir, host: "127.0.0.1", port: 0, limits });
    admin = (await started.controller.auth.createToken({ name: "admin", role: "admin" })).secret;
  });
  after(async () => {
    await started?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    ...caller,
    get started() {
      return need();
    },
    get dir() {
      return dir;
    },
    get admin() {
      return admin;
    },
  };
}
