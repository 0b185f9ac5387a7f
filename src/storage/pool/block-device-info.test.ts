import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeDev } from "../../block/block-device-size.js";
import { unescapeProc } from "./block-device-info.js";

test("dev_t decodes as glibc's gnu_dev_major/minor, past 32 bits too", () => {
  assert.deepEqual(decodeDev(0x0801n), { major: 8, minor: 1 }); // sda1
  assert.deepEqual(decodeDev(0x0700n + 0x00n), { major: 7, minor: 0 }); // loop0
  assert.deepEqual(decodeDev(0x10300n), { major: 259, minor: 0 }); // nvme0n1 (major 259)
  // makedev(0x123fff, 0xabc45): major's low 12 bits at 8, the rest at 44; minor's low 8 at 0,
  // the rest at 20
  const dev = (0xfffn << 8n) | (0x123n << 44n) | 0x45n | (0xabcn << 20n);
  assert.deepEqual(decodeDev(dev), { major: 0x123fff, minor: 0xabc45 });
});

test("/proc/mounts octal escapes are decoded", () => {
  assert.equal(unescapeProc("/mnt/my\\040disk\\011x\\134y"), "/mnt/my disk\tx\\y");
  assert.equal(unescapeProc("/dev/sda1"), "/dev/sda1");
});
