/**
 * The copy itself. First pass: per file system, the source's tar (numeric owners, ACLs and
 * xattrs with GNU tar, sparse files, hard links within the file system, --one-file-system) over
 * SSH into `tar -x` here; the bytes are counted as they pass. Final pass: rsync over SSH with the
 * same key and the checked host key pinned, per file system, its changes counted from --stats.
 */
import { EXTLINUX_DIR } from "./volume-boot.js";
import { spawn } from "node:child_process";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { EtherplaneError } from "../foundation/errors.js";
import { knownHostsName } from "./known-hosts.js";
import type { Mount } from "./mounts.js";
import type { SshSource } from "./ssh-source.js";

export interface CopyProgress {
  bytes: number;
  files: number;
}

export interface CopyOutcome extends CopyProgress {
  /** The source changed while tar read it (GNU tar's exit 1): run --final. */
  changedDuringCopy: boolean;
}

/** After the local tar read the whole stream, the source's exit status comes at once or never. */
const REMOTE_EXIT_WAIT_MS = 30_000;
const REMOTE_LOST_WAIT_MS = 5_000;

function settleWithin<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms))),
  ]).finally(() => clearTimeout(timer));
}

const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

/** Mount points nested in `mount` that are copied on their own (excluded from its pass). */
export function nestedMountPoints(mount: Mount, all: readonly Mount[]): string[] {
  const prefix = mount.mountPoint === "/" ? "/" : `${mount.mountPoint}/`;
  return all
    .filter((m) => m !== mount && m.mountPoint.startsWith(prefix))
    .map((m) => m.mountPoint.slice(prefix.length - 1));
}

export function sourceTarCommand(mountPoint: string, gnuTar: boolean): string {
  const gnu = gnuTar ? "--acls --xattrs --xattrs-include='*' --sparse " : "";
  return `tar --numeric-owner ${gnu}--one-file-system -C ${q(mountPoint)} -cf - .`;
}

export function localTarArgs(dest: string, gnuTar: boolean): string[] {
  const gnu = gnuTar ? ["--acls", "--xattrs", "--xattrs-include=*"] : [];
  return ["--numeric-owner", ...gnu, "-xpvf", "-", "-C", dest];
}

export async function tarCopy(
  source: SshSource,
  mounts: readonly Mount[],
  dest: string,
  gnuTar: boolean,
  onProgress: (p: CopyProgress) => void,
): Promise<CopyOutcome> {
  const total: CopyOutcome = { bytes: 0, files: 0, changedDuringCopy: false };
  for (const mount of mounts) {
    const into = path.join(dest, mount.mountPoint);
    await fsp.mkdir(into, { recursive: true });
    const remote = await source.stream(sourceTarCommand(mount.mountPoint, gnuTar));
    const local = spawn("tar", localTarArgs(into, gnuTar), { stdio: ["pipe", "pipe", "pipe"] });
    let localErr = "";
    local.stderr.on("data", (c: Buffer) => {
      if (localErr.length < 4096) localErr += c.toString();
    });
    local.stdout.on("data", (c: Buffer) => {
      for (const byte of c) if (byte === 0x0a) total.files++;
    });
    remote.stdout.on("data", (c: Buffer) => {
      total.bytes += c.length;
      onProgress(total);
    });
    remote.stdout.pipe(local.stdin);
    local.stdin.on("error", () => remote.stop());
    const localCode = await new Promise<number | null>((resolve) => local.once("close", resolve));
    // tar stops at the archive's end marker and may leave the record's padding unread; the
    // channel reports the source's exit only once its stream is read to the end, so drain it.
    remote.stdout.resume();
    if (localCode !== 0) {
      // A lost connection ends the stream too: say so rather than blame the volume.
      const lost = await settleWithin(remote.done, REMOTE_LOST_WAIT_MS);
      remote.stop();
      if (lost?.code === null)
        throw new EtherplaneError(
          "IO_ERROR",
          `the copy of ${mount.mountPoint} was interrupted (source tar connection lost): ${localErr.trim().slice(0, 400)}`,
        );
      throw new EtherplaneError(
        /No space left/.test(localErr) ? "OUT_OF_RANGE" : "IO_ERROR",
        `writing ${mount.mountPoint} into the volume failed (tar exit ${localCode}): ${localErr.trim().slice(0, 400)}`,
      );
    }
    const result = await settleWithin(remote.done, REMOTE_EXIT_WAIT_MS);
    if (result === undefined || result.code === null || (result.code !== 0 && result.code !== 1))
      throw new EtherplaneError(
        "IO_ERROR",
        `the copy of ${mount.mountPoint} was interrupted after ${total.bytes} bytes (source tar ${result?.code === undefined || result.code === null ? "connection lost" : `exit ${result.code}`}): ${(result?.stderr ?? remote.stderrSoFar()).trim().slice(0, 400)}`,
      );
    if (result.code === 1) total.changedDuringCopy = true;
  }
  return total;
}

export interface RsyncOptions {
  identityFile: string | undefined;
  /** A known_hosts file holding only the host key this run checked. */
  knownHostsFile: string;
}

export function knownHostsLine(source: SshSource): string {
  const { host, port } = source.address;
  return `${knownHostsName(host, port)} ${source.hostKey.type} ${source.hostKey.blob.toString("base64")}\n`;
}

export function rsyncArgs(
  source: SshSource,
  mount: Mount,
  nested: readonly string[],
  dest: string,
  options: RsyncOptions,
): string[] {
  const { user, host, port } = source.address;
  const ssh = [
    "ssh",
    `-p ${port}`,
    ...(options.identityFile ? [`-i ${q(options.identityFile)}`, "-o IdentitiesOnly=yes"] : []),
    `-o UserKnownHostsFile=${q(options.knownHostsFile)}`,
    "-o GlobalKnownHostsFile=/dev/null",
    "-o StrictHostKeyChecking=yes",
    "-o BatchMode=yes",
  ].join(" ");
  const from = `${user}@${host.includes(":") ? `[${host}]` : host}:${mount.mountPoint === "/" ? "/" : `${mount.mountPoint}/`}`;
  return [
    "-aHAXSx",
    "--numeric-ids",
    "--delete",
    "--stats",
    "-e",
    ssh,
    ...nested.map((n) => `--exclude=${n}/*`),
    // extlinux of --boot volume lives in the copy only (volume-boot.ts): --delete keeps it.
    ...(mount.mountPoint === "/" ? [`--filter=P ${EXTLINUX_DIR}/`] : []),
    from,
    `${dest.replace(/\/$/, "")}/`,
  ];
}

/** `Number of regular files transferred: 3` and `Number of deleted files: 1` from --stats. */
export function parseRsyncStats(text: string): {
  transferred: number;
  deleted: number;
  bytes: number;
} {
  const num = (re: RegExp) => Number((re.exec(text)?.[1] ?? "0").replace(/,/g, ""));
  return {
    transferred: num(/Number of regular files transferred:\s*([\d,]+)/),
    deleted: num(/Number of deleted files:\s*([\d,]+)/),
    bytes: num(/Total transferred file size:\s*([\d,]+)/),
  };
}
