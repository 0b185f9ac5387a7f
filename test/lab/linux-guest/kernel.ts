/**
 * Debian's own kernel for the guest, fetched once and kept in the cache (see cache.ts):
 *
 *   <cache>/linux-guest/kernel/<package>.deb            e.g. linux-image-6.1.0-56-amd64.deb
 *   <cache>/linux-guest/kernel/<package>-<key>/  vmlinuz, vmlinux, modules/<name>.ko, manifest.json
 *
 * The versioned package is the one `linux-image-amd64` depends on (`apt-cache depends`; `apt-get
 * update` only when apt knows none). Only vmlinuz and the modules asked for, with their
 * dependencies (`modinfo -F depends`), are kept from the 400 MB package tree; compressed modules
 * (.ko.xz, .ko.zst, .ko.gz: newer Debian kernels) are decompressed because busybox `insmod` takes
 * plain ELF objects. The xz payload of vmlinuz is kept uncompressed too, for a PVH boot
 * (vmlinux.ts).
 */
import {
  copyFile,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { EtherplaneError, errorFields } from "../../../src/foundation/errors.js";
import { createLogger } from "../../../src/foundation/log.js";
import { cacheRoot, cachedEntry } from "./cache.js";
import { runCommand } from "./exec.js";
import { extractPvhVmlinux } from "./vmlinux.js";

const log = createLogger("lab:linux-guest");

/**
 * Modules the lab needs, by the name `insmod` reports; dependencies are added automatically.
 * crc32c_generic is ext4's soft dependency ("crypto-crc32c"): the guest has no modprobe to find
 * it, and qemu64 has no SSE4.2 for crc32c-intel. 8021q is for VLAN tests.
 */
export const guestModuleRoots = [
  "virtio_pci",
  "virtio_net",
  "crc32c_generic",
  "ext4",
  "8021q",
  "aoe",
] as const;

export interface GuestModule {
  name: string;
  /** Names of the modules this one needs loaded first (built-in ones left out). */
  depends: string[];
}

export interface GuestKernel {
  /** The versioned Debian package, e.g. `linux-image-6.1.0-56-amd64`. */
  packageName: string;
  /** `uname -r` of the guest, e.g. `6.1.0-56-amd64`. */
  release: string;
  vmlinuzPath: string;
  /** What QEMU's `-kernel` gets: the PVH-capable vmlinux when there is one, else vmlinuz. */
  bootImagePath: string;
  /** Folder holding `<name>.ko` (uncompressed) for every module in `modules`. */
  modulesDir: string;
  /** Loadable modules in load order (each after its dependencies). */
  modules: GuestModule[];
  /** Wanted modules this kernel has built in: nothing to load. */
  builtin: string[];
}

interface Manifest {
  packageName: string;
  release: string;
  bootImage: "vmlinux" | "vmlinuz";
  modules: GuestModule[];
  builtin: string[];
}

const aptTimeoutMs = 5 * 60_000;
/** Bump when the entry's layout changes: older entries are then ignored. */
const layoutVersion = 2;

async function dependencyOfMetaPackage(): Promise<string | undefined> {
  const { stdout } = await runCommand("apt-cache", ["depends", "linux-image-amd64"]).catch(() => ({
    stdout: "",
  }));
  return /Depends:\s*(linux-image-\d\S*)/.exec(stdout)?.[1];
}

/** The versioned kernel package, refreshing apt's lists once if apt knows none. */
export async function resolveKernelPackage(): Promise<string> {
  const known = await dependencyOfMetaPackage();
  if (known) return known;
  log.info("apt knows no linux-image-amd64: running apt-get update");
  await runCommand("apt-get", ["update", "-qq"], { timeoutMs: aptTimeoutMs });
  const refreshed = await dependencyOfMetaPackage();
  if (!refreshed) {
    throw new EtherplaneError(
      "UNAVAILABLE",
      "apt-cache depends linux-image-amd64 names no versioned kernel package",
    );
  }
  return refreshed;
}

/** `<dir>/<package>.deb`, downloaded under a temporary folder and renamed when complete. */
export async function downloadPackage(packageName: string, dir: string): Promise<string> {
  const debPath = join(dir, `${packageName}.deb`);
  await cachedEntry(debPath, (temporary) => downloadTo(packageName, temporary));
  return debPath;
}

async function downloadTo(packageName: string, debPath: string): Promise<void> {
  // Named after the temporary .deb, so that a killed run's is removed as a stale temporary too.
  const downloadDir = `${debPath}.d`;
  await mkdir(downloadDir, { recursive: true });
  try {
    // Sandbox user root: the cache folder need not be readable by `_apt`.
    const download = () =>
      runCommand("apt-get", ["download", "-q", "-o", "APT::Sandbox::User=root", packageName], {
        cwd: downloadDir,
        timeoutMs: aptTimeoutMs,
      });
    await download().catch(async (error) => {
      // Stale lists point at a superseded file: refresh them once and retry.
      log.info("apt-get download failed: refreshing lists", { ...errorFields(error) });
      await runCommand("apt-get", ["update", "-qq"], { timeoutMs: aptTimeoutMs });
      await download();
    });
    const debs = (await readdir(downloadDir)).filter((name) => name.endsWith(".deb"));
    if (debs.length !== 1 || !debs[0]) {
      throw new EtherplaneError(
        "IO_ERROR",
        `apt-get download ${packageName} left ${debs.length} .deb files`,
      );
    }
    await rename(join(downloadDir, debs[0]), debPath);
  } finally {
    await rm(downloadDir, { recursive: true, force: true });
  }
}

/** Every `*.ko*` under `root`, by module name (`-` read as `_`, as the kernel does). */
async function indexModules(root: string): Promise<Map<string, string>> {
  const index = new Map<string, string>();
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    const match = /^(.+)\.ko(\.xz|\.zst|\.gz)?$/.exec(entry.name);
    if (entry.isFile() && match?.[1]) {
      index.set(match[1].replaceAll("-", "_"), join(entry.parentPath, entry.name));
    }
  }
  return index;
}

async function builtinModules(modulesRoot: string): Promise<Set<string>> {
  const text = await readFile(join(modulesRoot, "modules.builtin"), "utf8").catch(() => "");
  const names = text
    .split("\n")
    .map((line) => /([^/]+)\.ko$/.exec(line.trim())?.[1]?.replaceAll("-", "_"))
    .filter((name): name is string => name !== undefined);
  return new Set(names);
}

/** Copies `source` (maybe compressed) to `<dir>/<name>.ko`, uncompressed. */
async function installModule(source: string, dir: string, name: string): Promise<void> {
  const suffix = /\.ko(\.xz|\.zst|\.gz)?$/.exec(source)?.[1] ?? "";
  const target = join(dir, `${name}.ko${suffix}`);
  await copyFile(source, target);
  if (suffix === ".xz") await runCommand("xz", ["-d", "-q", target]);
  else if (suffix === ".zst") await runCommand("zstd", ["-d", "-q", "--rm", target]);
  else if (suffix === ".gz") await runCommand("gzip", ["-d", "-q", target]);
}

/** Unpacks the package and keeps vmlinuz plus the wanted modules in `outDir`. */
async function extractKernel(
  debPath: string,
  packageName: string,
  roots: readonly string[],
  outDir: string,
): Promise<Manifest> {
  const unpackDir = await mkdtemp(`${outDir}-unpack-`);
  try {
    await runCommand("dpkg", ["-x", debPath, unpackDir], { timeoutMs: aptTimeoutMs });
    const releases = await readdir(join(unpackDir, "lib", "modules"));
    const release = releases[0];
    if (releases.length !== 1 || !release) {
      throw new EtherplaneError("IO_ERROR", `${debPath} holds ${releases.length} module trees`);
    }
    const modulesRoot = join(unpackDir, "lib", "modules", release);
    const index = await indexModules(join(modulesRoot, "kernel"));
    const builtin = await builtinModules(modulesRoot);

    await mkdir(join(outDir, "modules"), { recursive: true });
    await copyFile(join(unpackDir, "boot", `vmlinuz-${release}`), join(outDir, "vmlinuz"));
    const pvh = await extractPvhVmlinux(join(outDir, "vmlinuz"), join(outDir, "vmlinux"));
    const modules: GuestModule[] = [];
    const wantedBuiltin = roots.filter((name) => builtin.has(name));
    const seen = new Set<string>();
    const visit = async (name: string): Promise<void> => {
      if (seen.has(name) || builtin.has(name)) return;
      seen.add(name);
      const source = index.get(name);
      if (!source) {
        throw new EtherplaneError("NOT_FOUND", `module ${name} is not in ${packageName}`);
      }
      const { stdout } = await runCommand("modinfo", ["-F", "depends", source]);
      const depends = stdout
        .trim()
        .split(",")
        // modinfo names some dependencies with dashes (xen-privcmd); the index uses underscores.
        .map((dep) => dep.replaceAll("-", "_"))
        .filter((dep) => dep !== "" && !builtin.has(dep));
      for (const dep of depends) await visit(dep);
      await installModule(source, join(outDir, "modules"), name);
      modules.push({ name, depends }); // after its dependencies: `modules` is in load order
    };
    for (const root of roots) await visit(root);
    const manifest: Manifest = {
      bootImage: pvh ? "vmlinux" : "vmlinuz",
      packageName,
      release,
      modules,
      builtin: wantedBuiltin,
    };
    await writeFile(join(outDir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
    return manifest;
  } finally {
    await rm(unpackDir, { recursive: true, force: true });
  }
}

function kernelFrom(dir: string, manifest: Manifest): GuestKernel {
  return {
    packageName: manifest.packageName,
    release: manifest.release,
    vmlinuzPath: join(dir, "vmlinuz"),
    bootImagePath: join(dir, manifest.bootImage),
    modulesDir: join(dir, "modules"),
    modules: manifest.modules,
    builtin: manifest.builtin,
  };
}

async function readManifest(dir: string): Promise<Manifest | undefined> {
  const text = await readFile(join(dir, "manifest.json"), "utf8").catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as Manifest);
}

async function newestCachedEntry(dir: string, key: string) {
  let best: { entry: string; manifest: Manifest; mtimeMs: number } | undefined;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith("linux-image-") || !name.endsWith(`-${key}`)) continue;
    const entry = join(dir, name);
    const manifest = await readManifest(entry);
    const { mtimeMs } = await stat(entry);
    if (manifest && (!best || mtimeMs > best.mtimeMs)) best = { entry, manifest, mtimeMs };
  }
  return best;
}

/** The guest kernel and modules, from the cache or fetched and extracted into it. */
export async function fetchGuestKernel(
  options: { cacheDir?: string; moduleRoots?: readonly string[] } = {},
): Promise<GuestKernel> {
  const roots = options.moduleRoots ?? guestModuleRoots;
  const dir = join(options.cacheDir ?? cacheRoot(), "linux-guest", "kernel");
  const key = createHash("sha256")
    .update(`layout ${layoutVersion}\n${roots.join(",")}`)
    .digest("hex")
    .slice(0, 12);
  let packageName: string;
  try {
    packageName = await resolveKernelPackage();
  } catch (error) {
    // No apt lists and no network: a kernel cached earlier still does.
    const fallback = await newestCachedEntry(dir, key);
    if (!fallback) throw error;
    log.warn("apt names no kernel: using the cached one", { entry: fallback.entry });
    return kernelFrom(fallback.entry, fallback.manifest);
  }
  const entry = join(dir, `${packageName}-${key}`);

  const startMs = Date.now();
  const built = await cachedEntry(
    entry,
    async (staging) => {
      const debPath = await downloadPackage(packageName, dir);
      await mkdir(staging, { recursive: true });
      await extractKernel(debPath, packageName, roots, staging);
    },
    async (path) => (await readManifest(path)) !== undefined,
  );
  if (built) log.info("guest kernel cached", { entry, ms: Date.now() - startMs });
  const manifest = await readManifest(entry);
  if (!manifest) throw new EtherplaneError("IO_ERROR", `${entry}: no manifest after its build`);
  return kernelFrom(entry, manifest);
}

/** `names` and everything they need, dependencies first (the order `insmod` wants). */
export function loadOrder(kernel: GuestKernel, names: readonly string[]): string[] {
  const byName = new Map(kernel.modules.map((module) => [module.name, module]));
  const order: string[] = [];
  const visit = (name: string) => {
    if (order.includes(name) || kernel.builtin.includes(name)) return;
    const module = byName.get(name);
    if (!module) throw new EtherplaneError("NOT_FOUND", `guest kernel has no module ${name}`);
    for (const dep of module.depends) visit(dep);
    order.push(name);
  };
  for (const name of names) visit(name);
  return order;
}
