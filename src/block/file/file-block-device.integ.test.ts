/**
 * The BlockDevice contract on real files: tmpfs and the machine's disk file system, through the
 * RWF_NOWAIT fast path and through the thread pool alone; plus the fast path's fallback on a miss.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, test } from "node:test";
import { blockDeviceContract } from "../../../test/contracts/block-device.contract.js";
import { openFileBlockDevice } from "./file-block-device.js";
import { nowaitIo } from "./nowait-io.js";

const SIZE = 1024 * 1024;
const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function freshFile(base: string): string {
  const dir = fs.mkdtempSync(path.join(base, "ep-bd-"));
  dirs.push(dir);
  const file = path.join(dir, "disk.img");
  fs.writeFileSync(file, "");
  fs.truncateSync(file, SIZE);
  return file;
}

for (const [label, base] of [
  ["tmpfs", "/dev/shm"],
  ["disk", fs.existsSync("/var/tmp") ? "/var/tmp" : os.tmpdir()],
] as const) {
  blockDeviceContract(`file on ${label}`, SIZE, () => openFileBlockDevice(freshFile(base)), {
    vectored: true,
  });
}

test("the RWF_NOWAIT addon is built and serves a page-cache hit without the thread pool", () => {
  const io = nowaitIo;
  assert.ok(io, "build/Release/nowait_io.node is loaded");
  const file = freshFile("/var/tmp");
  fs.writeFileSync(file, Buffer.alloc(SIZE, 0x61));
  const fd = fs.openSync(file, "r");
  try {
    const buffer = Buffer.alloc(8192);
    const n = io.preadv(fd, [buffer], 4096);
    // ext4 and xfs support it for reads (a just-written file is cached); others answer -2.
    assert.ok(n === 8192 || n === -2, `preadv2(RWF_NOWAIT) gave ${n}`);
    if (n === 8192) assert.ok(buffer.every((b) => b === 0x61));
    assert.throws(() => io.preadv(-1, [buffer], 0), /Bad file descriptor/);
  } finally {
    fs.closeSync(fd);
  }
});

test("files on tmpfs are known to be in memory (inline copies); files on disk and block devices are not", async () => {
  const onTmpfs = await openFileBlockDevice(freshFile("/dev/shm"));
  const onDisk = await openFileBlockDevice(freshFile("/var/tmp"));
  // A loop device: its node is on devtmpfs, whose statfs type is tmpfs's, but its bytes are on a
  // disk (here a file on one): no inline copies, no mapping in the fast path.
  const loop = execFileSync("losetup", ["-f", "--show", freshFile("/var/tmp")], {
    encoding: "utf8",
  }).trim();
  try {
    const onLoop = await openFileBlockDevice(loop);
    try {
      assert.equal(onTmpfs.memoryBacked, true);
      assert.equal(onDisk.memoryBacked, false);
      assert.equal(fs.statfsSync(loop).type, fs.statfsSync("/dev/shm").type, "/dev is a tmpfs");
      assert.equal(onLoop.memoryBacked, false, "a block device on devtmpfs");
      assert.equal(onLoop.nativeFile()?.memoryBacked, false);
    } finally {
      await onLoop.close();
    }
  } finally {
    execFileSync("losetup", ["-d", loop]);
    await onTmpfs.close();
    await onDisk.close();
  }
});

test("a cold read (page cache dropped) falls back to the thread pool and returns the data", async () => {
  const file = freshFile("/var/tmp");
  const data = Buffer.alloc(SIZE, 0x7e);
  fs.writeFileSync(file, data);
  const device = await openFileBlockDevice(file);
  try {
    const fd = fs.openSync(file, "r");
    fs.fdatasyncSync(fd);
    fs.closeSync(fd);
    fs.writeFileSync("/proc/sys/vm/drop_caches", "1");
    const back = Buffer.alloc(SIZE);
    await device.readv([back.subarray(0, SIZE / 2), back.subarray(SIZE / 2)], 0);
    assert.ok(back.equals(data));
  } finally {
    await device.close();
  }
});
