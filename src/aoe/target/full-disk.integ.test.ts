/**
 * A full disk (a real 2 MiB tmpfs under a 16 MiB sparse backing file): writes that do not fit are
 * answered with an ATA error (device fault), never the AoE error flag; the target keeps serving,
 * data written before is intact, and the failure is counted and explained.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { after, before, test } from "node:test";
import { createAoeLink, makeBackingFile, startTarget } from "../../../test/lab/aoe-lab.js";
import type { AoeLink } from "../../../test/lab/aoe-lab.js";
import { pattern } from "../../../test/sim/pattern.js";
import { run } from "../../../test/lab/netns.js";
import { isEtherplaneError } from "../../foundation/errors.js";
import type { AoeTarget } from "./aoe-target.js";

const MiB = 1024 * 1024;
let link: AoeLink;
let mountPoint: string;
let target: AoeTarget;

before(async () => {
  link = await createAoeLink("full");
  mountPoint = `${link.dir}/small`;
  fs.mkdirSync(mountPoint);
  await run("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mountPoint]);
});

after(async () => {
  await target?.stop();
  await run("umount", [mountPoint]).catch(() => undefined);
  await link?.close();
});

test("writes past the filesystem's free space fail as ATA errors; the volume keeps its data", async () => {
  const disk = makeBackingFile(mountPoint, "thin.img", 16 * MiB);
  target = await startTarget(link.targetNs, {
    stateDir: `${link.dir}/state`,
    interfaces: ["tgt0"],
    exports: [{ address: "2.9", path: disk }],
  });
  const initiator = link.initiator();
  try {
    const device = await initiator.openDevice(2, 9, { requestTimeoutMs: 5000 });
    const first = pattern(MiB, 1);
    await device.write(first, 0);
    await assert.rejects(
      device.write(pattern(4 * MiB, 2), 8 * MiB),
      (error) => isEtherplaneError(error, "IO_ERROR") && /device fault/.test(error.message),
    );
    const back = Buffer.alloc(MiB);
    await device.read(back, 0);
    assert.ok(back.equals(first), "data written before the disk filled is intact");
    const counters = target.stats().exports[0]?.counters;
    assert.ok(counters && counters.ioErrors > 0, "I/O errors counted");
    assert.equal(
      counters.aoeErrors,
      0,
      "reported in the ATA status, never with the AoE error flag",
    );
    assert.equal(fs.statSync(disk).size, 16 * MiB);
  } finally {
    initiator.close();
  }
});
