/**
 * The source's mount table (/proc/self/mounts, proc(5)) and which of its file systems a P2V copy
 * takes: local disk file systems only. Pseudo file systems (/proc, /sys, /dev, /run, tmpfs...),
 * network mounts and swap are skipped, each with its reason for the plan. Pure.
 */
import { EtherplaneError } from "../foundation/errors.js";

export interface Mount {
  device: string;
  mountPoint: string;
  fsType: string;
  options: string[];
}

export interface SkippedMount {
  mount: Mount;
  reason: string;
}

export interface MountSelection {
  /** Local disk file systems, "/" first, parents before children. */
  copy: Mount[];
  skip: SkippedMount[];
}

/** A mount table of more lines is not a server's: refuse it rather than plan over it. */
export const MOUNT_LINES_MAX = 4096;

/** File systems whose files live on a local disk and are copied. */
export const DISK_FS_TYPES: ReadonlySet<string> = new Set([
  "ext2",
  "ext3",
  "ext4",
  "xfs",
  "btrfs",
  "jfs",
  "reiserfs",
  "vfat",
  "f2fs",
]);

/** Mounts of files on another machine: reachable (or not) from the domain's network, never copied. */
export const NETWORK_FS_TYPES: ReadonlySet<string> = new Set([
  "nfs",
  "nfs4",
  "cifs",
  "smb3",
  "smbfs",
  "ceph",
  "glusterfs",
  "fuse.sshfs",
  "fuse.glusterfs",
  "9p",
  "afs",
  "ncpfs",
  "lustre",
  "ocfs2",
  "gfs2",
]);

/** Trees the kernel or init fills at boot: never copied, whatever their file system. */
const RUNTIME_TREES = ["/proc", "/sys", "/dev", "/run"];

/** proc(5) escapes space, tab, newline and backslash in mount fields as \ooo octal. */
function unescapeField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(parseInt(octal, 8)),
  );
}

/** Parses /proc/mounts text: `device mountpoint fstype options dump pass` per line. */
export function parseMounts(text: string): Mount[] {
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  if (lines.length > MOUNT_LINES_MAX)
    throw new EtherplaneError(
      "PROTOCOL",
      `the source's mount table has ${lines.length} lines (at most ${MOUNT_LINES_MAX})`,
    );
  return lines.map((line, index) => {
    const fields = line.trim().split(/\s+/);
    const [device, mountPoint, fsType, options] = fields;
    if (!device || !mountPoint?.startsWith("/") || !fsType || !options)
      throw new EtherplaneError(
        "PROTOCOL",
        `the source's mount table line ${index + 1} is not "device mountpoint type options": ${JSON.stringify(line.slice(0, 120))}`,
      );
    return {
      device: unescapeField(device),
      mountPoint: unescapeField(mountPoint),
      fsType,
      options: options.split(","),
    };
  });
}

function under(path: string, tree: string): boolean {
  return path === tree || path.startsWith(tree.endsWith("/") ? tree : `${tree}/`);
}

/** Which mounts to copy and which to skip (with why). Mount points hidden by a later mount lose. */
export function selectMounts(mounts: readonly Mount[]): MountSelection {
  const copy: Mount[] = [];
  const skip: SkippedMount[] = [];
  // The last mount on a path hides the earlier ones (an over-mounted /).
  const visible = mounts.filter(
    (m, i) => !mounts.slice(i + 1).some((later) => later.mountPoint === m.mountPoint),
  );
  for (const mount of mounts) {
    if (!visible.includes(mount)) {
      skip.push({ mount, reason: "hidden by a later mount on the same path" });
      continue;
    }
    const tree = RUNTIME_TREES.find((t) => under(mount.mountPoint, t));
    if (tree) {
      skip.push({ mount, reason: `${tree} is filled by the kernel or init at boot` });
    } else if (NETWORK_FS_TYPES.has(mount.fsType)) {
      skip.push({ mount, reason: "network file system: stays on its server" });
    } else if (!DISK_FS_TYPES.has(mount.fsType)) {
      skip.push({ mount, reason: `${mount.fsType}: not a disk file system` });
    } else if (copy.some((c) => c.device === mount.device && c.fsType !== "btrfs")) {
      skip.push({ mount, reason: `${mount.device} is already copied (a bind mount)` });
    } else {
      copy.push(mount);
    }
  }
  if (!copy.some((m) => m.mountPoint === "/"))
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      "the source's / is not a disk file system (ext2/3/4, XFS, btrfs...): nothing to copy; " +
        "is SOURCE a live CD or a container?",
    );
  const depth = (m: Mount) => (m.mountPoint === "/" ? 0 : m.mountPoint.split("/").length);
  copy.sort((a, b) => depth(a) - depth(b));
  return { copy, skip };
}

/** The file system the copy is made with: the source root's own when it is ext2/3/4 or XFS. */
export function targetFsType(root: Mount): "ext2" | "ext3" | "ext4" | "xfs" {
  const own = root.fsType;
  return own === "ext2" || own === "ext3" || own === "ext4" || own === "xfs" ? own : "ext4";
}
