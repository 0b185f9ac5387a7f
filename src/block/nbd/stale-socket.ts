/** Clearing the way to listen on a Unix socket path left behind by a server that is gone. */
import * as fs from "node:fs/promises";
import * as net from "node:net";
import { EtherplaneError, errorMessage } from "../../foundation/errors.js";

/** Removes a leftover socket file nobody listens on; refuses to touch anything else. */
export async function removeStaleSocket(path: string): Promise<void> {
  let stat;
  try {
    stat = await fs.lstat(path);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new EtherplaneError("IO_ERROR", `cannot stat ${path}: ${errorMessage(cause)}`, { cause });
  }
  if (!stat.isSocket()) {
    throw new EtherplaneError("INVALID_ARGUMENT", `${path} exists and is not a socket`, {
      params: { path },
    });
  }
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false)); // ECONNREFUSED: nobody listens, the file is stale
  });
  if (live) throw new EtherplaneError("REFUSED", `${path} is in use by a running server`);
  await fs.unlink(path);
}
