/**
 * Token secrets handed to a person go into files only the controller's user can read, never to
 * stdout (under systemd, stdout is the journal, which other users may read).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { createFileSync, replaceFileSync } from "../foundation/atomic-file.js";
import { EtherplaneError, errorMessage } from "../foundation/errors.js";

/** Where `up` and `controller` save the first admin token. */
export function adminTokenPath(dataDir: string): string {
  return path.join(dataDir, "admin.token");
}

/**
 * Writes `secret` and a newline to `file`, mode 0600, durably. `replace`: an existing file is
 * replaced atomically; otherwise an existing file is CONFLICT (never overwrite what a person
 * may still need).
 */
export function writeTokenFile(file: string, secret: string, replace: boolean): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    if (replace) replaceFileSync(file, `${secret}\n`);
    else createFileSync(file, `${secret}\n`);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "EEXIST" && !replace)
      throw new EtherplaneError(
        "CONFLICT",
        `${file} exists already; move it away, or name another file with --out FILE`,
        { cause, params: { file } },
      );
    throw new EtherplaneError("IO_ERROR", `cannot write ${file}: ${errorMessage(cause)}`, {
      cause,
      params: { file },
    });
  }
}
