/**
 * Address clashes and capacity: a foreign AoE target (Debian's vblade) already answering e1.0 on
 * the storage host's segment keeps that address from volumes (refused when asked for, skipped when
 * allocating); a thin pool that promises more than it holds gets a warning, and the change is made.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { createAoeLink, makeBackingFile, type AoeLink } from "../../test/lab/aoe-lab.js";
import { apiCaller } from "../../test/lab/api-caller.js";
import { upOnLink } from "../../test/lab/up-box.js";
import { run } from "../../test/lab/netns.js";
import type { PoolRecord, TaskRecord, VolumeRecord } from "../cluster/model.js";
import type { Up } from "./up.js";

const MiB = 1024 * 1024;
let link: AoeLink;
let running: Up;
let admin: string;
let mountPoint: string;

const { call } = apiCaller(
  () => running.url,
  () => admin,
);

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  link = await createAoeLink("fac");
  // A foreign target on the storage segment: vblade on the far end of the storage host's veth.
  const vbladeFile = makeBackingFile(link.dir, "foreign.img", 8 * MiB);
  link.net.adopt(
    spawn("ip", ["netns", "exec", link.initiatorNs.name, "vblade", "1", "0", "ini0", vbladeFile], {
      stdio: "ignore",
    }),
  );
  mountPoint = path.join(link.dir, "small");
  fs.mkdirSync(mountPoint);
  await run("mount", ["-t", "tmpfs", "-o", "size=64m", "tmpfs", mountPoint]);
  running = await upOnLink(link, { scanIntervalMs: 500 });
  admin = running.adminToken as string;
});

after(async () => {
  await running?.stop();
  await run("umount", [mountPoint]).catch(() => undefined);
  await link?.close();
});

test("a foreign target's address is refused when asked for and skipped when allocating", async () => {
  // The agent's discovery sees vblade and the controller lists it.
  const seen = await until("the foreign target to be seen", async () => {
    const { body } = await call<{ targets: Array<{ shelf: number; slot: number }> }>(
      "GET",
      "/api/v1/aoe/foreign-targets",
    );
    return body.targets.length > 0 ? body.targets : undefined;
  });
  assert.deepEqual(
    seen.map((t) => [t.shelf, t.slot]),
    [[1, 0]],
  );
  const refused = await call<{ error: { message: string; field: string } }>(
    "POST",
    "/api/v1/volumes",
    { name: "clash", sizeBytes: MiB, address: "1.0" },
  );
  assert.equal(refused.status, 409);
  assert.match(
    refused.body.error.message,
    /e1\.0 is already answered on the network by a target etherplane does not manage/,
  );
  assert.equal(refused.body.error.field, "address");
  const created = await call<{ volume: VolumeRecord }>("POST", "/api/v1/volumes", {
    name: "web",
    sizeBytes: MiB,
  });
  assert.equal(created.status, 202);
  assert.notDeepEqual(
    [created.body.volume.shelf, created.body.volume.slot],
    [1, 0],
    "allocation skipped e1.0",
  );
});

test("a pool promised beyond its capacity warns, and the volume is still made (thin)", async () => {
  const pools = await call<{ pools: PoolRecord[] }>("GET", "/api/v1/pools");
  const host = pools.body.pools[0]?.hostId as string;
  const pool = await call<{ pool: PoolRecord }>("POST", "/api/v1/pools", {
    host,
    name: "small",
    kind: "directory",
    path: mountPoint,
  });
  assert.equal(pool.status, 201);
  await until("the small pool's capacity to be reported", async () => {
    const { body } = await call<{ pools: PoolRecord[] }>("GET", "/api/v1/pools");
    const small = body.pools.find((p) => p.name === "small");
    return small?.capacityBytes ? small : undefined;
  });
  const fits = await call<{ warnings: string[] }>("POST", "/api/v1/volumes", {
    name: "fits",
    sizeBytes: 32 * MiB,
    pool: "small",
  });
  assert.deepEqual(fits.body.warnings, []);
  const big = await call<{ warnings: string[]; task: TaskRecord }>("POST", "/api/v1/volumes", {
    name: "big",
    sizeBytes: 128 * MiB,
    pool: "small",
  });
  assert.equal(big.status, 202);
  assert.match(
    big.body.warnings[0] ?? "",
    /pool small is overcommitted: 0\.2G provisioned on 0\.1G/,
  );
  const done = await until("the thin volume", async () => {
    const { body } = await call<{ task: TaskRecord }>("GET", `/api/v1/tasks/${big.body.task.id}`);
    return body.task.state === "running" ? undefined : body.task;
  });
  assert.equal(done.state, "succeeded", "thin: made although larger than the pool");
});
