/**
 * A block pool end to end: two loop devices (standing in for partitions or logical volumes) made
 * a pool through the API; a volume created on it claims the smallest device that fits, is
 * exported over AoE, holds what is written, and gives the device back when deleted.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { after, before, test } from "node:test";
import {
  createAoeLink,
  initiatorMac,
  makeBackingFile,
  pattern,
  startInitiator,
  type AoeLink,
} from "../../test/lab/aoe-lab.js";
import { apiCaller } from "../../test/lab/api-caller.js";
import { upOnLink } from "../../test/lab/up-box.js";
import { run } from "../../test/lab/netns.js";
import type { AoeInitiator } from "../aoe/initiator/aoe-initiator.js";
import type { PoolRecord, TaskRecord, VolumeRecord } from "../cluster/model.js";
import type { Up } from "./up.js";

const MiB = 1024 * 1024;
let link: AoeLink;
let running: Up;
let initiator: AoeInitiator;
const loops: string[] = [];

const { call, settled } = apiCaller(
  () => running.url,
  () => running.adminToken,
);

before(async () => {
  link = await createAoeLink("bpool");
  for (const [name, size] of [
    ["small", 16 * MiB],
    ["large", 48 * MiB],
  ] as const) {
    const file = makeBackingFile(link.dir, `${name}.raw`, size);
    loops.push((await run("losetup", ["-f", "--show", file])).stdout.trim());
  }
  running = await upOnLink(link);
  initiator = startInitiator(link.initiatorNs, ["ini0"]);
});

after(async () => {
  initiator?.close();
  await running?.stop();
  for (const loop of loops) await run("losetup", ["-d", loop]).catch(() => undefined);
  await link?.close();
});

test("a volume on a block pool claims the smallest device that fits, serves it over AoE, and releases it", async () => {
  const { body: hosts } = await call<{ hosts: Array<{ id: string }> }>("GET", "/api/v1/hosts");
  const made = await call<{ pool: PoolRecord }>("POST", "/api/v1/pools", {
    host: hosts.hosts[0]?.id,
    name: "lvs",
    kind: "block",
    devices: loops,
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const created = await call<{ volume: VolumeRecord; task: TaskRecord }>(
    "POST",
    "/api/v1/volumes",
    { name: "db", sizeBytes: 12 * MiB, pool: "lvs", allow: [initiatorMac(initiator)] },
  );
  assert.equal(created.status, 202, JSON.stringify(created.body));
  assert.equal((await settled(created.body.task)).state, "succeeded");
  const volume = created.body.volume;
  const device = await initiator.openDevice(volume.shelf, volume.slot, { listenMs: 300 });
  assert.equal(
    device.sizeBytes,
    16 * MiB,
    "the smallest device that fits (16 MiB for 12 MiB asked)",
  );
  await device.write(pattern(MiB, 9), 0);
  const onDevice = Buffer.alloc(MiB);
  const fd = fs.openSync(loops[0] as string, "r");
  fs.readSync(fd, onDevice, 0, MiB, 0);
  fs.closeSync(fd);
  assert.ok(onDevice.equals(pattern(MiB, 9)), "the bytes are on the claimed block device");
  assert.equal(
    (
      await settled(
        (await call<{ task: TaskRecord }>("POST", "/api/v1/volumes/db/unexport")).body.task,
      )
    ).state,
    "succeeded",
  );
  assert.equal(
    (await settled((await call<{ task: TaskRecord }>("DELETE", "/api/v1/volumes/db")).body.task))
      .state,
    "succeeded",
  );
  // The device is free again: a new volume that fits in 16 MiB gets it.
  const again = await call<{ volume: VolumeRecord; task: TaskRecord }>("POST", "/api/v1/volumes", {
    name: "db2",
    sizeBytes: 16 * MiB,
    pool: "lvs",
    allow: [initiatorMac(initiator)],
  });
  assert.equal((await settled(again.body.task)).state, "succeeded");
  const second = await initiator.openDevice(again.body.volume.shelf, again.body.volume.slot, {
    listenMs: 300,
  });
  assert.equal(second.sizeBytes, 16 * MiB);
});
