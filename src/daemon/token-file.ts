/**
 * Token secrets handed to a person go into files only the controller's user can read, never to
 * stdout (under systemd, stdout is the journal, which other users may read).
 */
import * as fs from "node:fs";
import * as path from "node:path";
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
  const target = replace ? `${file}.${process.pid}.tmp` : file;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const fd = fs.openSync(target, "wx", 0o600);
    try {
      // The umask may have taken bits from 0600 at creation; set the mode exactly.
      fs.fchmodSync(fd, 0o600);
      fs.writeSync(fd, `${secret}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (replace) fs.renameSync(target, file);
  } catch (cause) {
    if (replace) fs.rmSync(target, { force: true });
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
