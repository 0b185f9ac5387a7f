/**
 * The domain guest's boot material: Debian's kernel (the PVH-capable raw vmlinux when there is
 * one: it boots ~2x faster under TCG than the bzImage, and Xen boots it as a PV kernel too) and a
 * cached initramfs `<cache>/domain-guest/initrd-<key>.cpio` (key: every input hashed).
 *
 * Modules: virtio-pci, virtio-blk and virtio-net for QEMU; xen-blkfront and xen-netfront for Xen;
 * ext4 (+ crc32c_generic: qemu64 has no SSE4.2); pvpanic-mmio (QEMU's ISA pvpanic device is the
 * ACPI device QEMU0001) and pvpanic-pci, so a kernel panic is reported to QEMU as GUEST_PANICKED
 * (Debian 6.1 builds CONFIG_PVPANIC_MMIO/PCI as modules); button + evdev, so the ACPI power
 * button reaches busybox acpid.
 */
import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EtherplaneError } from "../../../src/foundation/errors.js";
import { cacheRoot, cachedEntry, exists } from "../linux-guest/cache.js";
import { runCommand } from "../linux-guest/exec.js";
import { busyboxInBin, packCpio, writeTree } from "../linux-guest/initramfs.js";
import { fetchGuestKernel, loadOrder, type GuestKernel } from "../linux-guest/kernel.js";
import { sharedGuestFiles } from "./guest-files.js";
import { initrdInitScript } from "./initrd-init.js";

/** Bump when the archive layout changes without any input changing. */
const layoutVersion = 1;
export const busyboxPath = "/bin/busybox";

/** Modules the domain guest loads, roots only (fetchGuestKernel adds the dependencies). */
export const domainGuestModuleRoots = [
  "virtio_pci",
  "virtio_blk",
  "virtio_net",
  "xen_blkfront",
  "xen_netfront",
  "crc32c_generic",
  "ext4",
  "pvpanic_mmio",
  "pvpanic_pci",
  "button",
  "evdev",
] as const;

export interface DomainGuestKit {
  /** Give it to `-kernel` (QEMU) or `kernel =` (xl). */
  kernel: string;
  initrd: string;
  /** The Debian kernel it comes from. */
  release: string;
}

/** Makes `root` hold busybox, its applet links (in /bin; /sbin, /usr/bin, /usr/sbin link there). */
export async function installBusybox(root: string): Promise<void> {
  if (!(await exists(busyboxPath))) {
    throw new EtherplaneError("UNAVAILABLE", `${busyboxPath} missing: install busybox-static`);
  }
  await busyboxInBin(root);
  await mkdir(join(root, "usr"), { recursive: true });
  await symlink("../bin", join(root, "usr", "bin"));
  await symlink("../bin", join(root, "usr", "sbin"));
}

const pending = new Map<string, Promise<DomainGuestKit>>();

/** The kernel and the cached initramfs; built once per process and cache folder. */
export function domainGuestKit(options: { cacheDir?: string } = {}): Promise<DomainGuestKit> {
  const cacheDir = options.cacheDir ?? cacheRoot();
  let kit = pending.get(cacheDir);
  if (!kit) {
    kit = buildKit(cacheDir);
    kit.catch(() => pending.delete(cacheDir));
    pending.set(cacheDir, kit);
  }
  return kit;
}

async function buildKit(cacheDir: string): Promise<DomainGuestKit> {
  const kernel = await fetchGuestKernel({ cacheDir, moduleRoots: domainGuestModuleRoots });
  const initrd = await ensureInitrd(kernel, cacheDir);
  return { kernel: kernel.bootImagePath, initrd, release: kernel.release };
}

async function ensureInitrd(kernel: GuestKernel, cacheDir: string): Promise<string> {
  const modules = loadOrder(kernel, domainGuestModuleRoots);
  const init = initrdInitScript(modules);
  const files = sharedGuestFiles();
  const hash = createHash("sha256");
  hash.update(`layout ${layoutVersion}\n${init}\n`);
  for (const file of files) {
    hash.update(`file ${file.path} ${file.mode ?? 0}\n`);
    hash.update(file.content);
  }
  hash.update(await readFile(busyboxPath));
  for (const name of modules) {
    hash.update(`module ${name}\n`);
    hash.update(await readFile(join(kernel.modulesDir, `${name}.ko`)));
  }
  const archivePath = join(
    cacheDir,
    "domain-guest",
    `initrd-${hash.digest("hex").slice(0, 16)}.cpio`,
  );
  await cachedEntry(archivePath, async (temporary) => {
    const root = await mkdtemp(join(tmpdir(), "ep-domain-initrd-"));
    try {
      for (const dir of ["dev", "proc", "sys", "tmp", "newroot", "lib/modules"]) {
        await mkdir(join(root, dir), { recursive: true });
      }
      await installBusybox(root);
      await symlink("bin", join(root, "sbin"));
      for (const name of modules) {
        await copyFile(
          join(kernel.modulesDir, `${name}.ko`),
          join(root, "lib", "modules", `${name}.ko`),
        );
      }
      await writeTree(root, [{ path: "init", content: init, mode: 0o755 }, ...files]);
      await runCommand("mknod", ["-m", "600", join(root, "dev", "console"), "c", "5", "1"]);
      await packCpio(root, temporary);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
  return archivePath;
}
