/**
 * Where `domain edit` keeps the file being edited: one fixed file per user and domain, in the
 * user's own config folder (`~/.config/etherplane/edits/<domain id>.cfg`, 0700/0600), never a
 * predictable name in a shared /tmp where another user could plant a symlink. A refused edit
 * stays there, and the next `domain edit` of that domain opens it again: nothing typed is lost.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { childPath } from "../../foundation/contained-path.js";
import { EtherplaneError } from "../../foundation/errors.js";
import { cliConfigPath } from "../client/cli-config.js";

export function editFilePath(
  domainId: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  const dir = path.join(path.dirname(cliConfigPath(env)), "edits");
  return childPath(dir, domainId, { suffix: ".cfg" });
}

/**
 * Makes the edit file holding `text`, or keeps an earlier refused edit: returns whether it
 * resumed one. The folder must be the user's own and closed to others.
 */
export function openEditFile(file: string, text: string): { resumed: boolean } {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const info = fs.lstatSync(dir);
  const uid = process.getuid?.();
  if (!info.isDirectory() || (uid !== undefined && info.uid !== uid) || (info.mode & 0o077) !== 0) {
    throw new EtherplaneError(
      "REFUSED",
      `${dir} must be a folder of yours that only you can use (chmod 700 ${dir}); nothing changed`,
    );
  }
  try {
    // O_EXCL: a symlink or file planted here is not followed or truncated.
    fs.writeFileSync(file, text, { mode: 0o600, flag: "wx" });
    return { resumed: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const kept = fs.lstatSync(file);
    if (!kept.isFile())
      throw new EtherplaneError("REFUSED", `${file} is not a regular file: remove it and retry`);
    return { resumed: true };
  }
}
