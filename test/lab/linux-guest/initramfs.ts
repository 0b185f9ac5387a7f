/**
 * The guest's initramfs in two parts, concatenated into one `-initrd` file per boot (the kernel
 * unpacks consecutive cpio archives into the same rootfs, usr/Documentation: initramfs):
 *
 * - a base archive, cached at `<cache>/linux-guest/initramfs-<key>.cpio` where the key hashes
 *   every input (busybox, the modules, `/init`, this builder's layout version): busybox-static
 *   with its applet links, the modules, `/init` and the `/dev/console` node the kernel opens
 *   before running init (without it `/init` has no console);
 * - a small per-boot archive with the files under `/ep` (the user script, aoe parameters).
 *
 * Archives are uncompressed newc (`cpio -o -H newc`, padded to 512 bytes, so the next archive
 * starts 4-byte aligned as the kernel requires); unpacking 5 MB beats decompressing under TCG.
 */
import { createHash } from "node:crypto";
import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { assert } from "../../../src/foundation/assert.js";
import { EtherplaneError } from "../../../src/foundation/errors.js";
import { cacheRoot, cachedEntry, exists } from "./cache.js";
import { runCommand } from "./exec.js";
import { guestInitScript } from "./guest-init.js";
import { loadOrder, type GuestKernel } from "./kernel.js";

/** Bump when the archive layout changes without any input changing. */
const layoutVersion = 1;
const busyboxPath = "/bin/busybox";
const overlayBytesMax = 64 * 1024 * 1024;

export interface InitramfsFile {
  /** Path inside the guest, relative to `/`, e.g. `ep/script.sh`. */
  path: string;
  content: string | Buffer;
  /** Permission bits; 0o644 unless given. */
  mode?: number;
}

/** Packs the folder `root` into a newc archive at `archivePath` (owner root, as the kernel wants). */
export async function packCpio(root: string, archivePath: string): Promise<void> {
  await chmod(root, 0o755); // the "." entry becomes the mode of the guest's `/`
  await runCommand(
    "sh",
    [
      "-c",
      'find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 --reproducible > "$1"',
      "sh",
      archivePath,
    ],
    { cwd: root },
  );
  const { size } = await stat(archivePath);
  assert(size % 4 === 0, `cpio archive ${archivePath} is ${size} bytes, not 4-byte aligned`);
}

/** Writes `files` under `root`, creating folders (paths relative, no `..`). */
export async function writeTree(root: string, files: readonly InitramfsFile[]): Promise<void> {
  for (const file of files) {
    assert(
      !file.path.startsWith("/") && !file.path.split("/").includes(".."),
      `bad path ${file.path}`,
    );
    const target = join(root, file.path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, file.content);
    await chmod(target, file.mode ?? 0o644);
  }
}

/** busybox applet names to link, busybox itself left out. */
export async function busyboxApplets(): Promise<string[]> {
  const { stdout } = await runCommand(busyboxPath, ["--list"]);
  // Never let an applet link replace busybox itself (init would fail with -40, ELOOP).
  return stdout
    .split("\n")
    .map((name) => name.trim())
    .filter((name) => /^[\w.[\]-]+$/.test(name) && name !== "busybox");
}

/**
 * `root`/bin/busybox and a link to it for each of its applets, but those `skip` says another
 * program provides.
 */
export async function busyboxInBin(
  root: string,
  skip: (applet: string) => Promise<boolean> = () => Promise.resolve(false),
): Promise<void> {
  await mkdir(join(root, "bin"), { recursive: true });
  await copyFile(busyboxPath, join(root, "bin", "busybox"));
  await chmod(join(root, "bin", "busybox"), 0o755);
  for (const applet of await busyboxApplets()) {
    if (!(await skip(applet))) await symlink("busybox", join(root, "bin", applet));
  }
}

function initModules(kernel: GuestKernel) {
  return {
    net: loadOrder(kernel, ["virtio_pci", "virtio_net"]),
    fs: loadOrder(kernel, ["crc32c_generic", "ext4"]),
    vlan: loadOrder(kernel, ["8021q"]),
  };
}

/** The cached base archive for `kernel`, built on first use. */
export async function ensureBaseInitramfs(
  kernel: GuestKernel,
  options: { cacheDir?: string } = {},
): Promise<string> {
  if (!(await exists(busyboxPath))) {
    throw new EtherplaneError("UNAVAILABLE", `${busyboxPath} missing: install busybox-static`);
  }
  const init = guestInitScript(initModules(kernel));
  const hash = createHash("sha256");
  hash.update(`layout ${layoutVersion}\n${init}\n`);
  hash.update(await readFile(busyboxPath));
  for (const module of kernel.modules) {
    hash.update(`module ${module.name}\n`);
    hash.update(await readFile(join(kernel.modulesDir, `${module.name}.ko`)));
  }
  const archivePath = join(
    options.cacheDir ?? cacheRoot(),
    "linux-guest",
    `initramfs-${hash.digest("hex").slice(0, 16)}.cpio`,
  );
  await cachedEntry(archivePath, async (temporary) => {
    const root = await mkdtemp(join(tmpdir(), "ep-initramfs-"));
    try {
      for (const dir of ["bin", "dev", "proc", "sys", "tmp", "mnt", "ep", "lib/modules"]) {
        await mkdir(join(root, dir), { recursive: true });
      }
      await busyboxInBin(root);
      for (const module of kernel.modules) {
        const name = `${module.name}.ko`;
        await copyFile(join(kernel.modulesDir, name), join(root, "lib", "modules", name));
      }
      await writeTree(root, [{ path: "init", content: init, mode: 0o755 }]);
      await runCommand("mknod", ["-m", "600", join(root, "dev", "console"), "c", "5", "1"]);
      await packCpio(root, temporary);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
  return archivePath;
}

/**
 * Writes `initrdPath`: the base archive followed by an archive of `files`. `workDir` is scratch
 * space owned by the caller.
 */
export async function composeInitrd(
  basePath: string,
  files: readonly InitramfsFile[],
  workDir: string,
  initrdPath: string,
): Promise<void> {
  const bytes = files.reduce((sum, file) => sum + Buffer.byteLength(file.content), 0);
  if (bytes > overlayBytesMax) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `guest files hold ${bytes} bytes, over ${overlayBytesMax}`,
    );
  }
  const root = join(workDir, "overlay");
  await mkdir(root, { recursive: true });
  await writeTree(root, files);
  const overlayPath = join(workDir, "overlay.cpio");
  await packCpio(root, overlayPath);
  await writeFile(
    initrdPath,
    Buffer.concat([await readFile(basePath), await readFile(overlayPath)]),
  );
}
