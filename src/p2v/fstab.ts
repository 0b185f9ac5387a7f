/**
 * The copy's /etc/fstab (fstab(5)), rewritten so that the domain boots: the root entry names the
 * new volume's file system, file systems merged into the root are no longer mounted, swap and
 * local disks the domain does not have are commented out with a note. Network mounts and pseudo
 * file systems stay as written. Pure: text in, text and the list of changes out.
 */
import { NETWORK_FS_TYPES } from "./mounts.js";

export interface FstabContext {
  /** The new root's spec, e.g. `UUID=4c1e...`. */
  rootSpec: string;
  rootFsType: string;
  /** Mount points whose files the copy merged into the root file system (not "/"). */
  mergedMountPoints: ReadonlySet<string>;
}

export interface FstabRewrite {
  text: string;
  changes: string[];
}

export const NOTE = "# etherplane p2v:";

/** fstab entries whose spec is not a disk: never commented out. */
const PSEUDO_SPECS = new Set([
  "proc",
  "sysfs",
  "tmpfs",
  "devpts",
  "devtmpfs",
  "none",
  "securityfs",
  "debugfs",
  "cgroup",
  "cgroup2",
  "shm",
  "efivarfs",
]);

function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function rewriteFstab(text: string, context: FstabContext): FstabRewrite {
  const changes: string[] = [];
  let rootSeen = false;
  const lines = text.split("\n").map((line) => {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return line;
    const fields = trimmed.split(/\s+/);
    const [spec = "", file = "", type = "", options = "defaults", ...rest] = fields;
    const mountPoint = unescape(file);
    const comment = (why: string) => {
      changes.push(`fstab: commented out ${spec} ${mountPoint} (${why})`);
      return `${NOTE} ${why}\n# ${line}`;
    };
    if (type === "swap") return comment("swap on the physical server's disk; the domain has none");
    if (mountPoint === "/") {
      rootSeen = true;
      const [dump = "0", pass = "1"] = rest;
      // Another file system type (btrfs -> ext4) cannot take the old one's options (subvol=...).
      const nextOptions = type === context.rootFsType ? options : "defaults";
      const next = [context.rootSpec, "/", context.rootFsType, nextOptions, dump, pass].join("\t");
      if (spec === context.rootSpec && type === context.rootFsType) return line;
      changes.push(
        `fstab: root ${spec} (${type}) -> ${context.rootSpec} (${context.rootFsType}), the new volume`,
      );
      return `${NOTE} root was: ${line}\n${next}`;
    }
    if (context.mergedMountPoints.has(mountPoint))
      return comment(`${mountPoint} was copied into the root file system`);
    if (NETWORK_FS_TYPES.has(type) || PSEUDO_SPECS.has(spec) || type === "tmpfs") return line;
    if (options.split(",").includes("bind")) return line;
    return comment("a disk the domain does not have; its files were not copied");
  });
  let result = lines.join("\n");
  if (!rootSeen) {
    if (result !== "" && !result.endsWith("\n")) result += "\n";
    const entry = [context.rootSpec, "/", context.rootFsType, "defaults", "0", "1"].join("\t");
    result += `${NOTE} the root file system, the new volume\n${entry}\n`;
    changes.push(`fstab: added root ${context.rootSpec} (${context.rootFsType})`);
  }
  return { text: result, changes };
}
