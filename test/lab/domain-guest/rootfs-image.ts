/**
 * A root filesystem image for a domain guest: ext4 made by `mke2fs -d` from a temporary folder
 * (no loop mount, no root needed), holding busybox with its applet links and `/sbin/init`, a
 * busybox sh script that mounts proc/sys/dev, runs the caller's `initScript` (output on the
 * console) and then becomes busybox init: the console guest and the power button work as in the
 * initramfs (guest-files.ts). The initramfs of kit.ts mounts it when the kernel command line says
 * `root=/dev/...`.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EtherplaneError } from "../../../src/foundation/errors.js";
import { runCommand } from "../linux-guest/exec.js";
import { writeTree } from "../linux-guest/initramfs.js";
import { cmdlineGetFunction, sharedGuestFiles } from "./guest-files.js";
import { installBusybox } from "./kit.js";

const sizeMiBMin = 16;
const sizeMiBMax = 64 * 1024;
const initScriptBytesMax = 1024 * 1024;

export interface RootFsImageOptions {
  /** The image file to write (replaced if it exists). */
  path: string;
  sizeMiB: number;
  /**
   * busybox sh run once at boot, after proc/sys/dev are mounted, with the console as stdout; e.g.
   * `echo booted > /marker; sync; poweroff -f`. When it returns, the console guest runs.
   */
  initScript: string;
  /** Filesystem label (`LABEL=` for root=); `ep-root` by default. */
  label?: string;
}

const rootInit = `#!/bin/busybox sh
# etherplane domain guest root /sbin/init (test/lab/domain-guest/rootfs-image.ts)
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
# The initramfs moved its devtmpfs here; mount one when booted without it.
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp && mount -t tmpfs tmpfs /tmp
${cmdlineGetFunction}
hostname "$(cmdline_get ep_hostname || echo ep-guest)"
sh /etc/ep-init-script
exec /bin/init
`;

export async function buildRootFsImage(options: RootFsImageOptions): Promise<void> {
  const { path, sizeMiB, initScript } = options;
  if (!Number.isInteger(sizeMiB) || sizeMiB < sizeMiBMin || sizeMiB > sizeMiBMax) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `sizeMiB ${sizeMiB} is outside ${sizeMiBMin}..${sizeMiBMax}`,
    );
  }
  if (Buffer.byteLength(initScript) > initScriptBytesMax) {
    throw new EtherplaneError("INVALID_ARGUMENT", `initScript is over ${initScriptBytesMax} bytes`);
  }
  const label = options.label ?? "ep-root";
  if (!/^[\w.-]{1,16}$/.test(label)) {
    throw new EtherplaneError("INVALID_ARGUMENT", `label ${label} is not 1-16 word characters`);
  }
  const root = await mkdtemp(join(tmpdir(), "ep-rootfs-"));
  try {
    for (const dir of ["dev", "proc", "sys", "tmp", "mnt", "root", "sbin", "var/log", "var/run"]) {
      await mkdir(join(root, dir), { recursive: true });
    }
    await installBusybox(root);
    await writeTree(root, [
      { path: "sbin/init", content: rootInit, mode: 0o755 },
      { path: "etc/ep-init-script", content: initScript, mode: 0o755 },
      ...sharedGuestFiles(),
    ]);
    // /sbin/poweroff and /sbin/reboot: the kernel's orderly_poweroff runs /sbin/poweroff.
    for (const applet of ["poweroff", "reboot", "halt"]) {
      await runCommand("ln", ["-s", "../bin/busybox", join(root, "sbin", applet)]);
    }
    await runCommand("mknod", ["-m", "600", join(root, "dev", "console"), "c", "5", "1"]);
    await rm(path, { force: true });
    await runCommand(
      "mke2fs",
      ["-q", "-F", "-t", "ext4", "-L", label, "-d", root, path, `${sizeMiB}M`],
      { timeoutMs: 120_000 },
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
