/**
 * What an export is served from, and whether persisted state recorded for one backing belongs to
 * another: pure rules, no I/O (the state store stats the path and calls these).
 *
 * A MAC mask list set for one disk must not follow the address to another disk (issue 16: a new
 * file at a reused address silently answered nobody).
 */
import { VOLUME_ID_BYTES_MAX } from "./config.js";

/** The backing as the config names it. */
export interface BackingRef {
  path: string;
  /** The volume's id when the storage agent runs the target: the identity that counts there. */
  volumeId?: string;
}

/** A backing's identity, as recorded beside the state set for it. */
export interface Backing extends BackingRef {
  /** file: a regular file (identified by st_dev + st_ino); block: a block device (by path). */
  kind: "file" | "block" | "other";
  /** Decimal strings: st_ino is 64 bits on XFS and btrfs, beyond a JS number's exact range. */
  dev?: string;
  ino?: string;
}

const PATH_BYTES_MAX = 4096;

/**
 * Whether state recorded for `recorded` applies to `current`.
 *
 * - A volume id, when either side has one, decides alone (the agent may move a volume's file).
 * - Regular files: the same inode, and the same device or the same path. A file replaced at the
 *   same path (new inode) is another disk; a renamed file (same device and inode) is the same one;
 *   the device number alone may change when disks are enumerated in another order at boot, so the
 *   path vouches for it then.
 * - Block devices and anything else: the path as configured (name them by a stable path such as
 *   /dev/disk/by-id/... or /dev/VG/LV: their device and inode numbers change across reboots).
 */
export function sameBacking(recorded: Backing, current: Backing): boolean {
  if (recorded.volumeId !== undefined || current.volumeId !== undefined)
    return recorded.volumeId === current.volumeId;
  if (recorded.kind !== current.kind) return false;
  if (recorded.kind === "file" && recorded.ino !== undefined && current.ino !== undefined)
    return (
      recorded.ino === current.ino &&
      (recorded.dev === current.dev || recorded.path === current.path)
    );
  return recorded.path === current.path;
}

/** Whether `a` and `b` record the same thing (a record to rewrite when they differ). */
export function sameRecord(a: Backing, b: Backing): boolean {
  return (
    a.path === b.path &&
    a.volumeId === b.volumeId &&
    a.kind === b.kind &&
    a.dev === b.dev &&
    a.ino === b.ino
  );
}

/** `volume vol-1 (/srv/pool/vol-1.img)`, `/srv/a.img (file, dev 2049, inode 12)`. */
export function describeBacking(backing: Backing): string {
  if (backing.volumeId !== undefined) return `volume ${backing.volumeId} (${backing.path})`;
  if (backing.kind === "file" && backing.ino !== undefined)
    return `${backing.path} (file, dev ${backing.dev ?? "?"}, inode ${backing.ino})`;
  return `${backing.path} (${backing.kind === "block" ? "block device" : backing.kind})`;
}

/** The JSON form kept in a state file. */
export function backingToJson(backing: Backing): Record<string, unknown> {
  return {
    path: backing.path,
    kind: backing.kind,
    ...(backing.volumeId !== undefined ? { volumeId: backing.volumeId } : {}),
    ...(backing.dev !== undefined ? { dev: backing.dev } : {}),
    ...(backing.ino !== undefined ? { ino: backing.ino } : {}),
  };
}

function optionalDecimal(value: unknown): string | undefined | null {
  if (value === undefined) return undefined;
  return typeof value === "string" && /^\d{1,20}$/.test(value) ? value : null;
}

/** Parses a state file's backing record; returns a reason string when it is not one. */
export function backingFromJson(raw: unknown): Backing | string {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return "not an object";
  const record = raw as Record<string, unknown>;
  const { path, kind, volumeId } = record;
  if (typeof path !== "string" || path.length === 0 || Buffer.byteLength(path) > PATH_BYTES_MAX)
    return "path is not a non-empty string";
  if (kind !== "file" && kind !== "block" && kind !== "other")
    return 'kind is not "file", "block" or "other"';
  if (
    volumeId !== undefined &&
    (typeof volumeId !== "string" ||
      volumeId.length === 0 ||
      Buffer.byteLength(volumeId) > VOLUME_ID_BYTES_MAX)
  )
    return "volumeId is not a non-empty string";
  const dev = optionalDecimal(record["dev"]);
  const ino = optionalDecimal(record["ino"]);
  if (dev === null || ino === null) return "dev or ino is not a decimal string";
  return {
    path,
    kind,
    ...(volumeId !== undefined ? { volumeId } : {}),
    ...(dev !== undefined ? { dev } : {}),
    ...(ino !== undefined ? { ino } : {}),
  };
}
