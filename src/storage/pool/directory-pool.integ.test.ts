/**
 * The StoragePool contract on DirectoryPool: tmpfs and the machine's ext4 disk (no reflink: the
 * byte copy), and an XFS image with reflink=1 mounted over a loop device (the reflink path), when
 * this kernel and xfsprogs allow it; otherwise that part is skipped, saying why.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { promisify } from "node:util";
import { after, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { openDirectoryPool, type DirectoryPoolOptions } from "./directory-pool.js";
import { storagePoolContract, type PoolUnderTest } from "./storage-pool.contract.js";
import { crashMidClone } from "./testing/crash-mid-clone.js";

const run = promisify(execFile);
const VOLUME_BYTES = 8 * 1024 * 1024;
const dirs: string[] = [];
const mounts: string[] = [];
after(async () => {
  for (const mount of mounts) await run("umount", [mount]).catch(() => undefined); // frees the loop
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

async function freshDir(base: string): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(base, "ep-pool-"));
  dirs.push(dir);
  return dir;
}

async function openUnderTest(
  base: string,
  options: DirectoryPoolOptions = {},
): Promise<PoolUnderTest> {
  const dir = await freshDir(base);
  return {
    pool: await openDirectoryPool(dir, options),
    reopen: () => openDirectoryPool(dir, options),
    crashMidClone: (sourceId, targetId) =>
      crashMidClone(
        {
          module: new URL("./directory-pool.js", import.meta.url),
          exportName: "openDirectoryPool",
          // a byte copy: a reflink would be over before any progress
          args: [dir, { reflink: "never" }],
        },
        sourceId,
        targetId,
      ),
    temporaries: async () => (await fsp.readdir(dir)).filter((n) => n.startsWith(".tmp-")),
  };
}

/** Mounts a fresh XFS image with reflink=1; the reason it cannot, if it cannot. */
async function mountXfs(): Promise<{ dir: string } | { skip: string }> {
  if (!fs.readFileSync("/proc/filesystems", "utf8").includes("\txfs\n")) {
    await run("modprobe", ["xfs"]).catch(() => undefined);
    if (!fs.readFileSync("/proc/filesystems", "utf8").includes("\txfs\n")) {
      return { skip: "this kernel has no XFS (not built in, no module)" };
    }
  }
  const dir = await freshDir("/var/tmp");
  const image = path.join(dir, "xfs.img");
  const mount = path.join(dir, "mnt");
  try {
    await fsp.writeFile(image, "");
    await fsp.truncate(image, 2 * 1024 * 1024 * 1024); // sparse; room for 2 x 256 MiB
    await run("mkfs.xfs", ["-q", "-m", "reflink=1", image]);
  } catch (error) {
    return { skip: `mkfs.xfs -m reflink=1 failed (install xfsprogs): ${String(error)}` };
  }
  await fsp.mkdir(mount);
  try {
    await run("mount", ["-o", "loop", image, mount]);
  } catch (error) {
    return { skip: `cannot mount an XFS image here (root, loop devices): ${String(error)}` };
  }
  mounts.push(mount);
  return { dir: mount };
}

const disk = fs.existsSync("/var/tmp") ? "/var/tmp" : "/tmp";
const common = { volumeBytes: VOLUME_BYTES, fixedSize: false, sparse: true };
storagePoolContract("directory on tmpfs", () => openUnderTest("/dev/shm"), {
  ...common,
  reflink: false,
});
storagePoolContract(`directory on the disk (${disk})`, () => openUnderTest(disk), {
  ...common,
  reflink: false,
});

const xfs = await mountXfs();
if ("dir" in xfs) {
  storagePoolContract("directory on XFS with reflink", () => openUnderTest(xfs.dir), {
    ...common,
    reflink: true,
  });
  storagePoolContract(
    "directory on XFS, reflink off",
    () => openUnderTest(xfs.dir, { reflink: "never" }),
    {
      ...common,
      reflink: false,
    },
  );
} else {
  test("StoragePool contract: directory on XFS with reflink", { skip: xfs.skip }, () => {});
}

/** Writes `sizeBytes` of non-zero bytes to a new volume, 4 MiB at a time. */
async function fillVolume(file: string, sizeBytes: number): Promise<void> {
  const handle = await fsp.open(file, "r+");
  try {
    const chunk = Buffer.alloc(4 * 1024 * 1024, 0x5a);
    for (let offset = 0; offset < sizeBytes; offset += chunk.length) {
      chunk.writeUInt32LE(offset / chunk.length, 0);
      await handle.write(chunk, 0, chunk.length, offset);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

test(
  "a 256 MiB clone: instant by reflink on XFS, timed as a byte copy on tmpfs, the disk and XFS",
  { skip: "dir" in xfs ? false : xfs.skip },
  async (t) => {
    if (!("dir" in xfs)) return;
    const sizeBytes = 256 * 1024 * 1024;
    const timings: string[] = [];
    for (const [label, base, reflink] of [
      ["xfs reflink", xfs.dir, "auto"],
      ["xfs byte copy", xfs.dir, "never"],
      ["ext4 byte copy", disk, "auto"],
      ["tmpfs byte copy", "/dev/shm", "auto"],
    ] as const) {
      const pool = await openDirectoryPool(await freshDir(base), { reflink });
      const source = await pool.create("vol-src", sizeBytes);
      await fillVolume(source.path, sizeBytes);
      const startMs = performance.now();
      const clone = await pool.clone("vol-src", "vol-dst");
      const ms = performance.now() - startMs;
      timings.push(`${label}: ${ms.toFixed(1)} ms`);
      assert.equal(clone.reflinked, label === "xfs reflink");
      if (clone.reflinked) assert.ok(ms < 1000, `a reflink is instant, took ${ms} ms`);
      const tail = Buffer.alloc(4);
      const handle = await fsp.open(clone.path, "r");
      await handle.read(tail, 0, 4, sizeBytes - 4 * 1024 * 1024);
      await handle.close();
      assert.equal(tail.readUInt32LE(0), 63, "the last chunk copied");
      await pool.remove("vol-src");
      await pool.remove("vol-dst");
    }
    t.diagnostic(timings.join("; "));
  },
);

test("cleanup removes a temporary an interrupted create left, which list never shows", async () => {
  const dir = await freshDir("/dev/shm");
  const pool = await openDirectoryPool(dir);
  const temporary = path.join(dir, ".tmp-vol-a-0123456789abcdef");
  await fsp.writeFile(temporary, "");
  await fsp.truncate(temporary, VOLUME_BYTES);
  assert.deepEqual(await pool.list(), []);
  assert.equal(await pool.get("vol-a"), undefined);
  await fsp.writeFile(path.join(dir, "notes.txt"), "not a volume");
  await pool.cleanup();
  assert.deepEqual((await fsp.readdir(dir)).sort(), ["notes.txt"]);
  assert.equal((await pool.create("vol-a", VOLUME_BYTES)).sizeBytes, VOLUME_BYTES);
});

test("openDirectoryPool refuses a missing directory, a file, and a bad chunk size", async () => {
  const dir = await freshDir("/dev/shm");
  await assert.rejects(openDirectoryPool(path.join(dir, "missing")), (e) =>
    isEtherplaneError(e, "NOT_FOUND"),
  );
  await fsp.writeFile(path.join(dir, "file"), "");
  await assert.rejects(openDirectoryPool(path.join(dir, "file")), (e) =>
    isEtherplaneError(e, "INVALID_ARGUMENT"),
  );
  await assert.rejects(openDirectoryPool(dir, { copyChunkBytes: 1000 }), (e) =>
    isEtherplaneError(e, "INVALID_ARGUMENT"),
  );
});

test("a volume name taken by something that is not a file is a CONFLICT, not a volume", async () => {
  const dir = await freshDir("/dev/shm");
  const warnings: string[] = [];
  const log = { debug() {}, info() {}, warn: (m: string) => warnings.push(m), error() {} };
  const pool = await openDirectoryPool(dir, { log });
  await fsp.mkdir(path.join(dir, "vol-a.img"));
  assert.deepEqual(await pool.list(), [], "list skips it");
  assert.deepEqual(warnings, ["skipping a pool entry that is not a volume"]);
  await assert.rejects(pool.get("vol-a"), (e) => isEtherplaneError(e, "CONFLICT"));
  await assert.rejects(pool.create("vol-a", VOLUME_BYTES), (e) => isEtherplaneError(e, "CONFLICT"));
});
