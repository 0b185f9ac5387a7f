/**
 * Host files copied into dom0 on a read-only ext4 image (virtio-blk), built per boot with
 * `mke2fs -d` from a staging folder of hard links (copies when the link fails, e.g. across
 * file systems). dom0 mounts it and bind-mounts each entry where it belongs (dom0-init.ts).
 *
 * Why not 9p for these: under TCG every 9p request is a round trip through QEMU and Xen's
 * interrupt path, ~10 ms here. Walking the repository's 6000 files took 72 s over 9p and 2.7 s
 * on this disk; node's first start took 8.7 s over 9p (its 95 MB binary paged in per request)
 * and 2.3 s here. The price is a snapshot: what changes on the host after the boot is not seen.
 *
 * `project` entries hold what running the CLI needs: package.json, dist/, the native addons in
 * build/Release and the production dependencies (package.json `dependencies` and
 * `optionalDependencies`, resolved the way Node.js does, up the node_modules folders).
 */
import {
  copyFile,
  link,
  lstat,
  mkdir,
  readFile,
  readdir,
  readlink,
  stat,
  symlink,
} from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { EtherplaneError } from "../../../src/foundation/errors.js";
import { runCommand } from "../linux-guest/exec.js";

export type CopySource =
  | { kind: "path"; hostPath: string }
  /** The repository at `root`: what the CLI needs to run. */
  | { kind: "project"; root: string };

export interface CopyEntry {
  source: CopySource;
  /** Where dom0 bind-mounts it. */
  mountPoint: string;
}

const filesMax = 200_000;
const packagesMax = 2_000;
const buildTimeoutMs = 120_000;
/** The virtio-blk serial dom0 finds the disk by (/sys/block/vd*\/serial). */
export const copyDiskSerial = "epcopies";

interface Counter {
  files: number;
  bytes: number;
}

/** Hard-links (or copies) `from` to `to`, recursively, keeping symlinks as they are. */
async function linkTree(from: string, to: string, counter: Counter): Promise<void> {
  const info = await lstat(from);
  if (info.isSymbolicLink()) {
    await symlink(await readlink(from), to);
  } else if (info.isDirectory()) {
    await mkdir(to, { recursive: true });
    for (const name of await readdir(from)) {
      await linkTree(join(from, name), join(to, name), counter);
    }
  } else if (info.isFile()) {
    await link(from, to).catch(() => copyFile(from, to));
    counter.bytes += info.size;
  } else {
    return; // sockets, fifos, devices: nothing dom0 could use
  }
  counter.files += 1;
  if (counter.files > filesMax) {
    throw new EtherplaneError("INVALID_ARGUMENT", `over ${filesMax} files to copy into dom0`);
  }
}

async function packageDependencies(dir: string): Promise<string[]> {
  const manifest = JSON.parse(await readFile(join(dir, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
  };
  return [
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.optionalDependencies ?? {}),
  ];
}

/** Node's lookup: `<dir>/node_modules/<name>`, then the parent folders', up to `root`. */
async function resolvePackage(
  root: string,
  from: string,
  name: string,
): Promise<string | undefined> {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (
      await stat(join(candidate, "package.json")).then(
        () => true,
        () => false,
      )
    )
      return candidate;
    if (dir === root || relative(root, dir).startsWith("..")) return undefined;
  }
}

/** The folders of `root`'s production dependencies, transitively (missing optional ones skipped). */
export async function productionPackages(root: string): Promise<string[]> {
  const found = new Set<string>();
  const queue: string[] = [root];
  while (queue.length > 0) {
    const dir = queue.shift() ?? root;
    for (const name of await packageDependencies(dir)) {
      const resolved = await resolvePackage(root, dir, name);
      if (!resolved || found.has(resolved)) continue;
      found.add(resolved);
      if (found.size > packagesMax) {
        throw new EtherplaneError("INVALID_ARGUMENT", `over ${packagesMax} packages in ${root}`);
      }
      queue.push(resolved);
    }
  }
  return [...found].sort();
}

async function stageProject(root: string, to: string, counter: Counter): Promise<void> {
  if (
    !(await stat(join(root, "dist")).then(
      () => true,
      () => false,
    ))
  ) {
    throw new EtherplaneError("NOT_FOUND", `${root}/dist is missing: build the project first`);
  }
  await mkdir(to, { recursive: true });
  await linkTree(join(root, "package.json"), join(to, "package.json"), counter);
  await linkTree(join(root, "dist"), join(to, "dist"), counter);
  const release = join(root, "build", "Release");
  const addons = await readdir(release).catch(() => [] as string[]);
  await mkdir(join(to, "build", "Release"), { recursive: true });
  for (const name of addons.filter((n) => n.endsWith(".node"))) {
    await linkTree(join(release, name), join(to, "build", "Release", name), counter);
  }
  for (const dir of await productionPackages(root)) {
    const target = join(to, relative(root, dir));
    // A nested package may sit inside one already staged whole.
    if (
      await lstat(target).then(
        () => true,
        () => false,
      )
    )
      continue;
    await mkdir(dirname(target), { recursive: true });
    await linkTree(dir, target, counter);
  }
}

/**
 * Writes the image at `imagePath` with entry i under `/<i>`, and returns dom0's `/ep/copies`
 * lines: `<i> <mountPoint> dir|file`.
 */
export async function buildCopyDisk(
  entries: readonly CopyEntry[],
  staging: string,
  imagePath: string,
): Promise<string> {
  const counter: Counter = { files: 0, bytes: 0 };
  const lines: string[] = [];
  await mkdir(staging, { recursive: true });
  for (const [i, entry] of entries.entries()) {
    const to = join(staging, String(i));
    if (entry.source.kind === "project") {
      await stageProject(entry.source.root, to, counter);
      lines.push(`${i} ${entry.mountPoint} dir\n`);
    } else {
      const info = await stat(entry.source.hostPath).catch(() => undefined);
      if (!info) throw new EtherplaneError("NOT_FOUND", `no ${entry.source.hostPath} to copy`);
      await linkTree(entry.source.hostPath, to, counter);
      lines.push(`${i} ${entry.mountPoint} ${info.isDirectory() ? "dir" : "file"}\n`);
    }
  }
  // Room for ext4's metadata and per-file block rounding; the file stays sparse.
  const blocks4k = Math.ceil(counter.bytes / 4096) + 2 * counter.files;
  const sizeMiB = Math.ceil((blocks4k * 4096 * 1.1) / (1024 * 1024)) + 16;
  await runCommand(
    "mke2fs",
    [
      ...["-q", "-F", "-t", "ext4", "-O", "^has_journal", "-L", copyDiskSerial],
      ...["-N", String(counter.files + 1024), "-E", "root_owner=0:0"],
      ...["-d", staging, imagePath, `${sizeMiB}M`],
    ],
    { timeoutMs: buildTimeoutMs },
  );
  return lines.join("");
}
