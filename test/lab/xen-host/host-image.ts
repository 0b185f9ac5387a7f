/**
 * The Xen host's boot files, built once and kept in the cache (see linux-guest/cache.ts):
 *
 *   <cache>/xen-host/debs/<package>.deb                 the Debian packages (packages.ts)
 *   <cache>/xen-host/host-<key>/xen                     the hypervisor, gunzipped: QEMU's
 *                                                       multiboot loader cannot load xen.gz
 *   <cache>/xen-host/host-<key>/dom0.cpio               dom0's base initramfs
 *   <cache>/xen-host/host-<key>/manifest.json
 *
 * dom0's kernel is the Linux guest lab's Debian kernel (linux-guest/kernel.ts), booted as the raw
 * vmlinux: with the compressed image, every boot under TCG spends seconds decompressing.
 * The key hashes every input known before any download (package names, modules, `/init`,
 * busybox, this file's layout version), so a warm cache needs no apt at all.
 */
import { createHash } from "node:crypto";
import * as fsp from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { EtherplaneError } from "../../../src/foundation/errors.js";
import { createLogger } from "../../../src/foundation/log.js";
import { cacheRoot, cachedEntry, exists } from "../linux-guest/cache.js";
import { runCommand } from "../linux-guest/exec.js";
import { busyboxInBin, packCpio, writeTree } from "../linux-guest/initramfs.js";
import { fetchGuestKernel, loadOrder, type GuestKernel } from "../linux-guest/kernel.js";
import { dom0InitScript, execServerPath, type Dom0Modules } from "./dom0-init.js";
import { execServerScript } from "./exec-channel.js";
import {
  fetchDebs,
  partialPackages,
  resolveHostPackages,
  supportPackages,
  xenPackages,
} from "./packages.js";

const log = createLogger("lab:xen-host");

/** Bump when the entry's layout changes without any input changing. */
const layoutVersion = 3;
const busyboxPath = "/bin/busybox";
const buildTimeoutMs = 5 * 60_000;

/**
 * What xencommons loads on a real host (xen-evtchn, xen-gntdev, xen-gntalloc, xen-privcmd,
 * xenfs), the backends for guests' disks and networks, and the bridge for their vifs.
 */
export const dom0ModuleRoots = [
  "xen_evtchn",
  "xen_gntdev",
  "xen_gntalloc",
  "xen_privcmd",
  "xenfs",
  "xen_blkback",
  "xen_netback",
  "bridge",
] as const;

/**
 * Loaded only when a boot asks for the feature. dom0 is PV, but QEMU's emulated PCI devices are
 * visible to it, and virtio uses the DMA API under Xen (virtio_ring.c vring_use_dma_api), so
 * virtio-net, virtio-9p, virtio-blk and virtio-serial work as on bare metal. 9p needs netfs and
 * fscache; the copy disk is ext4 (crc32c_generic: qemu64 has no SSE4.2 for crc32c-intel).
 */
const featureModuleRoots = {
  // 8021q: a compute host's networks may be VLANs (src/net/host-network); dom0 has no modprobe.
  net: ["virtio_pci", "virtio_net", "8021q"],
  aoe: ["aoe"],
  share: ["virtio_pci", "9p", "9pnet_virtio"],
  disk: ["virtio_pci", "virtio_blk", "crc32c_generic", "ext4"],
  control: ["virtio_pci", "virtio_console"],
} as const;

/**
 * What a PV guest's initramfs needs (guest-initrd.ts): the Xen block and network frontends and
 * ext4 (crc32c_generic: qemu64 has no SSE4.2 for crc32c-intel). The same kernel runs dom0 and
 * the guests, so one cached kernel entry holds both sets.
 */
export const pvGuestModuleRoots = [
  "xen_blkfront",
  "xen_netfront",
  "crc32c_generic",
  "ext4",
] as const;

const kernelModuleRoots = [
  ...new Set([
    ...dom0ModuleRoots,
    ...Object.values(featureModuleRoots).flat(),
    ...pvGuestModuleRoots,
  ]),
];

/** Unpacked files dom0 never uses: documentation, translations, charset converters. */
const prunedPaths = [
  "usr/share/doc",
  "usr/share/man",
  "usr/share/info",
  "usr/share/locale",
  "usr/share/lintian",
  "usr/lib/x86_64-linux-gnu/gconv",
  "boot",
  "usr/lib/xen-4.17/lib/python",
  "usr/lib/xen-4.17/boot",
];

export interface XenHostImage {
  /** The gunzipped hypervisor, for QEMU's `-kernel` (multiboot). */
  xenPath: string;
  /** dom0's kernel: the raw vmlinux when there is one. */
  dom0KernelPath: string;
  /** dom0's base initramfs; a per-boot archive with `/ep/config` and `/ep/script.sh` goes after it. */
  dom0InitramfsPath: string;
  /** The kernel of dom0 and of PV guests, with the modules of both. */
  kernel: GuestKernel;
}

interface Manifest {
  packages: string[];
  kernelRelease: string;
  builtMs: number;
}

async function unpackPackages(
  debs: Map<string, string>,
  root: string,
  scratch: string,
): Promise<void> {
  const partial = new Set(Object.keys(partialPackages));
  for (const [name, deb] of debs) {
    if (!partial.has(name)) {
      await runCommand("dpkg", ["-x", deb, root], { timeoutMs: buildTimeoutMs });
      continue;
    }
    const side = join(scratch, `partial-${name}`);
    await runCommand("dpkg", ["-x", deb, side], { timeoutMs: buildTimeoutMs });
    for (const file of partialPackages[name] ?? []) {
      await fsp.mkdir(dirname(join(root, file)), { recursive: true });
      await fsp.copyFile(join(side, file), join(root, file));
      await fsp.chmod(join(root, file), 0o755);
    }
  }
}

/** Links busybox applets into /bin where no unpacked package provides the command. */
async function linkBusybox(root: string): Promise<void> {
  await busyboxInBin(root, async (applet) => {
    const taken = await Promise.all(
      ["bin", "sbin", "usr/bin", "usr/sbin"].map((dir) => exists(join(root, dir, applet))),
    );
    return taken.includes(true);
  });
}

async function buildDom0Tree(
  root: string,
  scratch: string,
  kernel: GuestKernel,
  modules: Dom0Modules,
  debs: Map<string, string>,
): Promise<void> {
  await unpackPackages(debs, root, scratch);
  for (const path of prunedPaths) await fsp.rm(join(root, path), { recursive: true, force: true });
  await linkBusybox(root);
  for (const dir of [
    ...["dev", "proc", "sys", "tmp", "run", "ep", "lib/modules", "var/lib/etherplane"],
    ...["usr/local/bin", "opt", "run"],
  ]) {
    await fsp.mkdir(join(root, dir), { recursive: true });
  }
  await fsp.rm(join(root, "var", "run"), { recursive: true, force: true });
  await fsp.symlink("../run", join(root, "var", "run"));
  for (const name of new Set(Object.values(modules).flat())) {
    await fsp.copyFile(
      join(kernel.modulesDir, `${name}.ko`),
      join(root, "lib", "modules", `${name}.ko`),
    );
  }
  await writeTree(root, [
    { path: "init", content: dom0InitScript(modules), mode: 0o755 },
    { path: execServerPath.slice(1), content: execServerScript, mode: 0o755 },
    // Node.js resolves `localhost` through it (glibc has the files backend built in).
    { path: "etc/hosts", content: `127.0.0.1 localhost\n::1 localhost ip6-localhost\n` },
  ]);
  await runCommand("mknod", ["-m", "600", join(root, "dev", "console"), "c", "5", "1"]);
}

/** Builds the image's folder at `staging`. */
async function buildEntry(
  staging: string,
  kernel: GuestKernel,
  modules: Dom0Modules,
  cacheDir: string,
): Promise<void> {
  const startMs = Date.now();
  const packages = await resolveHostPackages();
  const debs = await fetchDebs([...packages.whole, ...packages.partial], cacheDir);
  const scratch = await fsp.mkdtemp(join(tmpdir(), "ep-xen-host-"));
  try {
    await fsp.mkdir(staging, { recursive: true });
    const root = join(scratch, "root");
    await fsp.mkdir(root);
    await buildDom0Tree(root, scratch, kernel, modules, debs);
    const hypervisorDeb = debs.get("xen-hypervisor-4.17-amd64");
    if (!hypervisorDeb) throw new EtherplaneError("NOT_FOUND", "no xen-hypervisor package");
    const hv = join(scratch, "hypervisor");
    await runCommand("dpkg", ["-x", hypervisorDeb, hv], { timeoutMs: buildTimeoutMs });
    await runCommand("sh", [
      "-c",
      'gzip -dc "$1" > "$2"',
      "sh",
      join(hv, "boot", "xen-4.17-amd64.gz"),
      join(staging, "xen"),
    ]);
    await packCpio(root, join(staging, "dom0.cpio"));
    const manifest: Manifest = {
      packages: [...debs.keys()].sort(),
      kernelRelease: kernel.release,
      builtMs: Date.now() - startMs,
    };
    await fsp.writeFile(join(staging, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  } finally {
    await fsp.rm(scratch, { recursive: true, force: true });
  }
}

/** The hypervisor, dom0 kernel and dom0 initramfs, from the cache or built into it. */
export async function fetchXenHostImage(
  options: { cacheDir?: string } = {},
): Promise<XenHostImage> {
  const cacheDir = options.cacheDir ?? cacheRoot();
  if (!(await exists(busyboxPath))) {
    throw new EtherplaneError("UNAVAILABLE", `${busyboxPath} missing: install busybox-static`);
  }
  const kernel = await fetchGuestKernel({ cacheDir, moduleRoots: kernelModuleRoots });
  const modules: Dom0Modules = {
    base: loadOrder(kernel, dom0ModuleRoots),
    net: loadOrder(kernel, featureModuleRoots.net),
    aoe: loadOrder(kernel, featureModuleRoots.aoe),
    share: loadOrder(kernel, featureModuleRoots.share),
    disk: loadOrder(kernel, featureModuleRoots.disk),
    control: loadOrder(kernel, featureModuleRoots.control),
  };
  const hash = createHash("sha256");
  hash.update(`layout ${layoutVersion}\nkernel ${kernel.packageName}\n`);
  hash.update(`packages ${[...xenPackages, ...supportPackages].join(",")}\n`);
  hash.update(`partial ${JSON.stringify(partialPackages)}\n${dom0InitScript(modules)}\n`);
  hash.update(`${execServerScript}\n`);
  hash.update(await fsp.readFile(busyboxPath));
  const entry = join(cacheDir, "xen-host", `host-${hash.digest("hex").slice(0, 16)}`);
  const image: XenHostImage = {
    xenPath: join(entry, "xen"),
    dom0KernelPath: kernel.bootImagePath,
    dom0InitramfsPath: join(entry, "dom0.cpio"),
    kernel,
  };
  const startMs = Date.now();
  const built = await cachedEntry(
    entry,
    (staging) => buildEntry(staging, kernel, modules, cacheDir),
    (path) => exists(join(path, "manifest.json")),
  );
  if (built) log.info("xen host image cached", { entry, ms: Date.now() - startMs });
  return image;
}

/** Per process and cache folder: the image is looked up once. */
const prepared = new Map<string, Promise<XenHostImage>>();

/** Fetches and builds the host image (once per process), so a `before` hook can warm the cache. */
export function prepareXenHost(options: { cacheDir?: string } = {}): Promise<XenHostImage> {
  const key = options.cacheDir ?? "";
  let pending = prepared.get(key);
  if (!pending) {
    pending = fetchXenHostImage(options);
    pending.catch(() => prepared.delete(key));
    prepared.set(key, pending);
  }
  return pending;
}
