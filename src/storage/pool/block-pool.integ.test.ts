/**
 * The StoragePool contract on BlockPool, over loop devices made for each case (sparse files in a
 * temporary directory, `losetup -f --show`, detached after the run); then what is particular to
 * devices: the smallest fitting device, sizes fixed by the device, no wipe, devices in use.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { promisify } from "node:util";
import { after, test } from "node:test";
import { isEtherplaneError, type ErrorCode } from "../../foundation/errors.js";
import type { Logger } from "../../foundation/log.js";
import { loadBlockPoolState } from "./block-pool-state.js";
import { openBlockPool } from "./block-pool.js";
import { storagePoolContract, type PoolUnderTest } from "./storage-pool.contract.js";
import { crashMidClone } from "./testing/crash-mid-clone.js";

const run = promisify(execFile);
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const MIB = 1024 * 1024;
const VOLUME_BYTES = 8 * MIB;
const loops: string[] = [];
const dirs: string[] = [];
const mounts: string[] = [];
after(async () => {
  for (const mount of mounts) await run("umount", [mount]).catch(() => undefined);
  for (const loop of loops) await run("losetup", ["-d", loop]).catch(() => undefined);
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory holding `sizes.length` loop devices over sparse files, and a state file. */
async function freshDevices(sizes: number[]): Promise<{ devices: string[]; stateFile: string }> {
  const dir = await fsp.mkdtemp("/var/tmp/ep-blockpool-");
  dirs.push(dir);
  const devices: string[] = [];
  for (const [i, size] of sizes.entries()) {
    const file = path.join(dir, `disk${i}.img`);
    await fsp.writeFile(file, "");
    await fsp.truncate(file, size);
    const { stdout } = await run("losetup", ["-f", "--show", file]);
    const loop = stdout.trim();
    loops.push(loop);
    devices.push(loop);
  }
  return { devices, stateFile: path.join(dir, "pool-state.json") };
}

async function openUnderTest(): Promise<PoolUnderTest> {
  const { devices, stateFile } = await freshDevices([VOLUME_BYTES, VOLUME_BYTES, VOLUME_BYTES]);
  return {
    pool: await openBlockPool(devices, stateFile),
    reopen: () => openBlockPool(devices, stateFile),
    crashMidClone: (sourceId, targetId) =>
      crashMidClone(
        {
          module: new URL("./block-pool.js", import.meta.url),
          exportName: "openBlockPool",
          args: [devices, stateFile],
        },
        sourceId,
        targetId,
      ),
    temporaries: async () => {
      const claims = await loadBlockPoolState(stateFile);
      const copying = [...claims].filter(([, claim]) => claim.state === "copying");
      const dir = path.dirname(stateFile);
      const files = (await fsp.readdir(dir)).filter((n) => n.includes(".tmp-"));
      return [...copying.map(([volumeId]) => `claim of ${volumeId}`), ...files];
    },
  };
}

storagePoolContract("block devices (loop)", openUnderTest, {
  volumeBytes: VOLUME_BYTES,
  fixedSize: true,
  reflink: false,
  sparse: false,
});

async function rejectsWith(call: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(call, (error) => isEtherplaneError(error, code), code);
}

test("create claims the smallest device that fits; the volume is the device's size", async () => {
  const { devices, stateFile } = await freshDevices([4 * MIB, 16 * MIB, 8 * MIB]);
  const pool = await openBlockPool(devices, stateFile);
  const a = await pool.create("vol-a", 5 * MIB);
  assert.deepEqual([a.path, a.sizeBytes, a.allocatedBytes], [devices[2], 8 * MIB, 8 * MIB]);
  const b = await pool.create("vol-b", 5 * MIB);
  assert.equal(b.path, devices[1]);
  await rejectsWith(pool.create("vol-c", 5 * MIB), "UNAVAILABLE");
  assert.equal((await pool.create("vol-c", 4 * MIB)).path, devices[0]);
  assert.deepEqual(await pool.capacity(), { totalBytes: 28 * MIB, freeBytes: 0 });
  // resize: anything from the size asked (5 MiB) up to the device's
  assert.equal((await pool.resize("vol-a", 6 * MIB)).sizeBytes, 8 * MIB);
  await rejectsWith(pool.resize("vol-a", 5 * MIB), "INVALID_ARGUMENT");
  await rejectsWith(pool.resize("vol-a", 8 * MIB + 512), "OUT_OF_RANGE");
  const state = JSON.parse(await fsp.readFile(stateFile, "utf8")) as unknown;
  assert.deepEqual(state, {
    version: 1,
    volumes: {
      "vol-a": { device: devices[2], requestedBytes: 6 * MIB, state: "ready" },
      "vol-b": { device: devices[1], requestedBytes: 5 * MIB, state: "ready" },
      "vol-c": { device: devices[0], requestedBytes: 4 * MIB, state: "ready" },
    },
  });
});

test("remove releases a device without wiping it: the next claim sees the old bytes", async () => {
  const { devices, stateFile } = await freshDevices([VOLUME_BYTES]);
  const pool = await openBlockPool(devices, stateFile);
  const volume = await pool.create("vol-a", VOLUME_BYTES);
  await fsp.writeFile(volume.path, Buffer.alloc(4096, 0x77), { flag: "r+" });
  await pool.remove("vol-a");
  const again = await pool.create("vol-b", VOLUME_BYTES);
  assert.equal(again.path, volume.path);
  const head = Buffer.alloc(4096);
  const handle = await fsp.open(again.path, "r");
  await handle.read(head, 0, 4096, 0);
  await handle.close();
  assert.ok(
    head.every((b) => b === 0x77),
    "documented: the caller wipes if it must",
  );
});

test("a mounted device is never claimed, nor counted free", async () => {
  const { devices, stateFile } = await freshDevices([VOLUME_BYTES, VOLUME_BYTES]);
  const [mounted, free] = devices as [string, string];
  await run("mkfs.ext4", ["-q", "-F", mounted]);
  const mountPoint = path.join(path.dirname(stateFile), "mnt");
  await fsp.mkdir(mountPoint);
  await run("mount", [mounted, mountPoint]);
  mounts.push(mountPoint);
  try {
    const warnings: string[] = [];
    const log = { ...silent, warn: (message: string) => warnings.push(message) };
    const pool = await openBlockPool(devices, stateFile, { log });
    assert.deepEqual(await pool.capacity(), {
      totalBytes: 2 * VOLUME_BYTES,
      freeBytes: VOLUME_BYTES,
    });
    assert.equal((await pool.create("vol-a", VOLUME_BYTES)).path, free);
    await rejectsWith(pool.create("vol-b", VOLUME_BYTES), "UNAVAILABLE");
    assert.deepEqual(warnings, ["skipping a device in use", "skipping a device in use"]);
  } finally {
    await run("umount", [mountPoint]);
    mounts.splice(mounts.indexOf(mountPoint), 1);
  }
});

test("cleanup removes a state file's temporary that a crash left", async () => {
  const { devices, stateFile } = await freshDevices([VOLUME_BYTES]);
  const pool = await openBlockPool(devices, stateFile);
  await pool.create("vol-a", VOLUME_BYTES);
  const leftover = `${stateFile}.tmp-0123456789abcdef`;
  await fsp.writeFile(leftover, '{"version":1,"vol');
  await pool.cleanup();
  assert.equal(fs.existsSync(leftover), false);
  assert.equal((await pool.list()).length, 1);
});

test("openBlockPool refuses what is not a list of distinct block devices, and a bad state", async () => {
  const { devices, stateFile } = await freshDevices([VOLUME_BYTES]);
  const device = devices[0] ?? "";
  await rejectsWith(openBlockPool([], stateFile), "INVALID_ARGUMENT");
  await rejectsWith(openBlockPool(["dev/loop0"], stateFile), "INVALID_ARGUMENT");
  await rejectsWith(openBlockPool([stateFile + "-missing"], stateFile), "NOT_FOUND");
  await rejectsWith(openBlockPool(["/etc/hostname"], stateFile), "INVALID_ARGUMENT");
  await rejectsWith(openBlockPool([device, device], stateFile), "INVALID_ARGUMENT");
  await fsp.writeFile(stateFile, "{not json");
  await rejectsWith(openBlockPool(devices, stateFile), "INVALID_CONFIG");
});
