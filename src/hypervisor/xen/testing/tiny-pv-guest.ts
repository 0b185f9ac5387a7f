/**
 * A tiny Xen PV guest for tests in the Xen host lab (test/lab/xen-host/): the lab's Debian
 * kernel, gzip-compressed (libxenguest gunzips a kernel itself; the raw 66 MB vmlinux would not
 * fit the lab's per-boot files and xz takes ~7 s to unpack under TCG), and a busybox initramfs
 * whose `/init` does what the kernel command line says:
 *
 *   ep_action=run        print "tick N" every second and echo console input as "echo:<line>"
 *   ep_action=poweroff   power off after ep_delay_s seconds (shutdown reason 0)
 *   ep_action=reboot     reboot (reason 1)
 *   ep_action=crash      panic through sysrq (reason 3: Linux PV reports a panic as a crash)
 *
 * `/sbin/poweroff` exists because the kernel runs it on a Xen shutdown request
 * (drivers/xen/manage.c, orderly_poweroff); a reboot request restarts the kernel directly.
 * Also the dom0 loop module, so a test can give a guest a real `phy:` disk.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { cacheRoot, cachedEntry } from "../../../../test/lab/linux-guest/cache.js";
import { runCommand } from "../../../../test/lab/linux-guest/exec.js";
import { packCpio, writeTree } from "../../../../test/lab/linux-guest/initramfs.js";
import { fetchGuestKernel } from "../../../../test/lab/linux-guest/kernel.js";

export interface TinyPvGuestImage {
  /** gzip-compressed vmlinux, for `kernel =`. */
  kernelGz: Buffer;
  /** newc cpio, for `ramdisk =`. */
  initramfs: Buffer;
  /** dom0's loop.ko of the same kernel. */
  loopModule: Buffer;
  kernelRelease: string;
}

export const tinyGuestInit = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /tmp /sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s /bin
export PATH=/bin
printf '#!/bin/busybox sh\\nexec /bin/busybox poweroff -f\\n' >/sbin/poweroff
chmod 755 /sbin/poweroff
echo "tiny-pv up action=$ep_action"
case "$ep_action" in
  poweroff) sleep "\${ep_delay_s:-1}"; poweroff -f ;;
  reboot) sleep "\${ep_delay_s:-1}"; reboot -f ;;
  crash) sleep "\${ep_delay_s:-1}"; echo c >/proc/sysrq-trigger ;;
esac
( i=0; while true; do i=$((i + 1)); echo "tick $i"; sleep 1; done ) &
while IFS= read -r line; do echo "echo:$line"; done </dev/console
sleep 1000000
`;

export async function prepareTinyPvGuest(): Promise<TinyPvGuestImage> {
  const kernel = await fetchGuestKernel({ moduleRoots: ["loop"] });
  const kernelGzPath = join(cacheRoot(), "xen-driver", `vmlinux-${kernel.release}.gz`);
  await cachedEntry(kernelGzPath, (temporary) =>
    pipeline(
      createReadStream(kernel.bootImagePath),
      createGzip({ level: 1 }),
      createWriteStream(temporary),
    ),
  );
  return {
    kernelGz: await readFile(kernelGzPath),
    initramfs: await buildTinyGuestInitramfs(),
    loopModule: await readFile(join(kernel.modulesDir, "loop.ko")),
    kernelRelease: kernel.release,
  };
}

/** The guest's initramfs alone (~2 MB): busybox, `/init` and `/dev/console`. */
export async function buildTinyGuestInitramfs(): Promise<Buffer> {
  const root = await mkdtemp(join(tmpdir(), "ep-tiny-pv-"));
  try {
    const tree = join(root, "tree");
    await mkdir(join(tree, "bin"), { recursive: true });
    await mkdir(join(tree, "dev"));
    await copyFile("/bin/busybox", join(tree, "bin", "busybox"));
    await chmod(join(tree, "bin", "busybox"), 0o755);
    await writeTree(tree, [{ path: "init", content: tinyGuestInit, mode: 0o755 }]);
    // The kernel opens /dev/console before /init runs (no devtmpfs yet): without it, no output.
    await runCommand("mknod", ["-m", "600", join(tree, "dev", "console"), "c", "5", "1"]);
    await packCpio(tree, join(root, "guest.cpio"));
    return await readFile(join(root, "guest.cpio"));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
