/**
 * Applies the fix-up's edits inside the mounted copy, never outside it: a path of the copy is
 * walked component by component and refused at a symlink (the copy's /etc could point at this
 * host's /etc, and we run as root). Kernel files are copied out to the host's boot directory.
 */
import { constants } from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { EtherplaneError } from "../foundation/errors.js";
import type { CopyEdit } from "./edits.js";

/** `root` + `inside` (absolute in the copy), refused when a component is a symlink or `..`. */
export async function pathInCopy(
  root: string,
  inside: string,
  options: { create?: boolean } = {},
): Promise<string> {
  const parts = inside.split("/").filter((p) => p !== "");
  if (parts.some((p) => p === ".." || p === ".")) throw refusal(inside, "a . or .. component");
  let current = root;
  for (const [index, part] of parts.entries()) {
    current = path.join(current, part);
    let stat;
    try {
      stat = await fsp.lstat(current);
    } catch {
      if (!options.create) throw new EtherplaneError("NOT_FOUND", `${inside} is not in the copy`);
      if (index < parts.length - 1) await fsp.mkdir(current, { mode: 0o755 });
      continue;
    }
    if (stat.isSymbolicLink())
      throw refusal(inside, `${path.join("/", ...parts.slice(0, index + 1))} is a symlink`);
  }
  return current;
}

function refusal(inside: string, why: string): EtherplaneError {
  return new EtherplaneError(
    "REFUSED",
    `the copy's ${inside} was not changed: ${why} (fix it by hand in the domain)`,
  );
}

export interface AppliedEdits {
  changes: string[];
  refused: string[];
}

export async function applyEdits(root: string, edits: readonly CopyEdit[]): Promise<AppliedEdits> {
  const changes: string[] = [];
  const refused: string[] = [];
  for (const edit of edits) {
    try {
      const target = await pathInCopy(root, edit.path, { create: edit.kind !== "copy-out" });
      if (edit.kind === "write") {
        // O_NOFOLLOW: the last component cannot have become a symlink since the walk.
        const handle = await fsp.open(
          target,
          constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
          0o644,
        );
        try {
          await handle.writeFile(edit.text);
        } finally {
          await handle.close();
        }
      } else if (edit.kind === "symlink") {
        await fsp.rm(target, { force: true });
        await fsp.symlink(edit.target, target);
      } else {
        await fsp.copyFile(target, edit.to);
      }
      changes.push(edit.change);
    } catch (error) {
      if (!(error instanceof EtherplaneError)) throw error;
      refused.push(error.message);
    }
  }
  return { changes, refused };
}
