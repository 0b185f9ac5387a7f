/**
 * Paths built from a name (a guest's run directory, its .pid, .log, .sock and .cfg files) stay
 * in their directory: the name is one path component, never `..`, never holding `/` or NUL. A
 * name that would climb out is our own bug when the callers validated it first, and a hostile
 * record's attack otherwise: either way it is refused before any file is touched. Pure
 * (node:path does no I/O).
 */
import { basename, dirname, join, resolve } from "node:path";
import { EtherplaneError } from "./errors.js";

/** `dir/<prefix><name><suffix>`, refused (INVALID_ARGUMENT) unless it is a direct child of dir. */
export function childPath(
  dir: string,
  name: string,
  affix: { prefix?: string; suffix?: string } = {},
): string {
  const file = `${affix.prefix ?? ""}${name}${affix.suffix ?? ""}`;
  const path = join(dir, file);
  if (
    name === "" ||
    file === "." ||
    file === ".." ||
    /[/\0]/.test(file) ||
    dirname(resolve(path)) !== resolve(dir) ||
    basename(path) !== file
  ) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `${JSON.stringify(file.slice(0, 80))} is not a file name inside ${dir}; ` +
        "a guest's name is letters, digits, _ . -",
      { params: { field: "name" } },
    );
  }
  return path;
}
