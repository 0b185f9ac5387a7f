/**
 * kill -9 in the middle of things: `etherplane controller` and `etherplane agent` as real
 * processes (each in its own network namespace, as in two-hosts.integ.test.ts), SIGKILLed while a
 * clone copies its bytes, right after a create or a delete answered 202, and both at once; then
 * restarted on the same data directories. After each, the state must converge: every volume the
 * API lists is ready with its task succeeded (or gone, for a delete), the pool holds exactly one
 * `<id>.img` per volume and no `.tmp-*` leftovers, and a clone holds what its source held.
 *
 * The clone's window is real: the source is BIG_BYTES of data on a disk file system (/var/tmp;
 * ext4 here, no reflink), so the byte copy takes a while, and each kill is checked to have left
 * the copy's temporary behind.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { pattern, startInitiator } from "../../test/lab/aoe-lab.js";
import { ClusterLab, type StorageHost } from "../../test/lab/cluster-lab.js";
import type { AoeInitiator } from "../aoe/initiator/aoe-initiator.js";
import type { TaskRecord, VolumeRecord } from "../cluster/model.js";

const MiB = 1024 * 1024;
const BIG_BYTES = 512 * MiB;
const SMALL_BYTES = 4 * MiB;
const INITIATOR_MAC = "02:ee:00:00:03:01";
const TASK_MS_MAX = 20_000;
const CONVERGE_MS_MAX = 30_000;
const LISTEN_MS = 400;

type Tasked = { volume: VolumeRecord; task: TaskRecord };

describe("crash recovery: controller and agent killed with -9 mid-operation, the state converges", () => {
  let lab: ClusterLab;
  let host: StorageHost;
  let initiator: AoeInitiator;
  let poolDir: string;
  /** Tasks whose outcome the convergence check verifies. */
  const tasks: TaskRecord[] = [];

  const volumes = async () =>
    (await lab.call<{ volumes: VolumeRecord[] }>("GET", "/api/v1/volumes")).body.volumes;
  const getTask = async (id: string) =>
    (await lab.call<{ task: TaskRecord }>("GET", `/api/v1/tasks/${id}`)).body.task;
  const poolEntries = () => fs.readdirSync(poolDir).sort();
  const temporariesOf = (volumeId: string) =>
    poolEntries().filter((name) => name.startsWith(`.tmp-${volumeId}-`));

  /** A mutating call that must answer 202; its task is remembered for the convergence check. */
  async function request(method: string, route: string, body?: unknown): Promise<Tasked> {
    const reply = await lab.call<Tasked>(method, route, body);
    assert.equal(reply.status, 202, `${method} ${route}: ${JSON.stringify(reply.body)}`);
    tasks.push(reply.body.task);
    return reply.body;
  }

  async function succeeded(task: TaskRecord): Promise<void> {
    let last = task;
    await lab.waitFor(`task ${task.id} (${task.kind})`, TASK_MS_MAX, async () => {
      last = await getTask(task.id);
      return last.state === "running" ? last.message : null;
    });
    assert.equal(last.state, "succeeded", JSON.stringify(last));
  }

  /**
   * Waits until the agent copies `copy`'s bytes: a temporary (none of `seen`) is in the pool, and
   * the controller has recorded a progress report made at or after `sinceMs`. Returns the temporary.
   */
  async function copying(copy: Tasked, sinceMs: number, seen: readonly string[] = []) {
    let temporary = "";
    await lab.waitFor(`the copy of ${copy.volume.name} to run`, TASK_MS_MAX, async () => {
      temporary = temporariesOf(copy.volume.id).find((name) => !seen.includes(name)) ?? "";
      if (!temporary) return `no temporary yet; the pool holds: ${poolEntries().join(" ")}`;
      const task = await getTask(copy.task.id);
      return task.updatedMs >= sinceMs && /copying/.test(task.message)
        ? null
        : `task not updated by the copy yet: ${task.message}`;
    });
    return temporary;
  }

  /** kill -9 of the agent while the copy runs; proves the copy was cut (temporary, no volume). */
  async function killAgentDuringCopy(volumeId: string): Promise<void> {
    await ClusterLab.kill(host.agent);
    assert.ok(
      temporariesOf(volumeId).length > 0 && !fs.existsSync(path.join(poolDir, `${volumeId}.img`)),
      `the copy was cut in the middle (if it finished first: the pool's file system clones by reflink, or copies BIG_BYTES too fast): ${poolEntries().join(" ")}`,
    );
  }

  /**
   * What the state must converge to: `names` in the API, all ready; every remembered task
   * succeeded; the pool holding one `<id>.img` per volume and nothing else.
   */
  async function converged(names: string[]): Promise<VolumeRecord[]> {
    let listed: VolumeRecord[] = [];
    await lab.waitFor(`convergence to ${names.join(", ")}`, CONVERGE_MS_MAX, async () => {
      listed = await volumes();
      const pending = listed.filter((v) => v.state !== "ready");
      if (pending.length > 0)
        return `volumes not ready: ${pending.map((v) => `${v.name} ${v.state}`).join(", ")}`;
      const open = [];
      for (const task of tasks) {
        const now = await getTask(task.id);
        if (now.state === "running") open.push(`${now.kind} ${now.message}`);
      }
      if (open.length > 0) return `tasks still running: ${open.join("; ")}`;
      const files = poolEntries().join(" ");
      const wanted = listed
        .map((v) => `${v.id}.img`)
        .sort()
        .join(" ");
      return files === wanted ? null : `pool holds [${files}], the API lists [${wanted}]`;
    });
    assert.deepEqual(listed.map((v) => v.name).sort(), [...names].sort());
    for (const task of tasks) {
      const now = await getTask(task.id);
      assert.equal(
        now.state,
        "succeeded",
        `${now.kind} of ${now.subjectId}: ${JSON.stringify(now)}`,
      );
    }
    assert.deepEqual(
      poolEntries(),
      listed.map((v) => `${v.id}.img`).sort(),
      "exactly one file per volume, no temporaries, no orphans",
    );
    return listed;
  }

  function digest(file: string): string {
    const hash = createHash("sha1");
    const chunk = Buffer.alloc(8 * MiB);
    const fd = fs.openSync(file, "r");
    try {
      for (;;) {
        const n = fs.readSync(fd, chunk, 0, chunk.length, null);
        if (n === 0) break;
        hash.update(chunk.subarray(0, n));
      }
    } finally {
      fs.closeSync(fd);
    }
    return hash.digest("hex");
  }

  /** The clone holds the source's bytes (the source is not written after the copy began). */
  async function sameContent(source: VolumeRecord, clone: VolumeRecord): Promise<void> {
    const file = (v: VolumeRecord) => path.join(poolDir, `${v.id}.img`);
    assert.equal(fs.statSync(file(clone)).size, BIG_BYTES);
    assert.equal(
      digest(file(clone)),
      digest(file(source)),
      `${clone.name} holds ${source.name}'s bytes`,
    );
    const device = await initiator.openDevice(clone.shelf, clone.slot, { listenMs: LISTEN_MS });
    const back = Buffer.alloc(MiB);
    await device.read(back, 0);
    assert.ok(
      back.equals(pattern(MiB, 1)),
      `${clone.name} serves, over AoE, what was written before the clone`,
    );
    await device.read(back, BIG_BYTES - MiB);
    assert.ok(back.equals(pattern(MiB, 2)));
  }

  before(async () => {
    lab = await ClusterLab.create("crash", "/var/tmp");
    poolDir = path.join(lab.dir, "pool");
    await lab.startController();
    host = await lab.storageHost("storage1");
    await lab.startAgent(host);
    initiator = startInitiator(await lab.initiatorHost("ini", INITIATOR_MAC), ["aoe0"]);
    const pool = await lab.call("POST", "/api/v1/pools", {
      host: host.name,
      name: "p1",
      kind: "directory",
      path: poolDir,
    });
    assert.equal(pool.status, 201, JSON.stringify(pool.body));

    // The source of the clones: BIG_BYTES of data (no zero chunk for the copy to skip), then
    // what a user writes over AoE at both ends before cloning.
    // Its clones inherit its allow list: the initiator reads them too.
    const big = await request("POST", "/api/v1/volumes", {
      name: "big",
      sizeBytes: BIG_BYTES,
      allow: [INITIATOR_MAC],
    });
    await succeeded(big.task);
    const fd = fs.openSync(path.join(poolDir, `${big.volume.id}.img`), "r+");
    try {
      const filler = pattern(MiB, 99);
      for (let offset = 0; offset < BIG_BYTES; offset += MiB) {
        filler.writeUInt32LE(offset / MiB, 0);
        fs.writeSync(fd, filler, 0, MiB, offset);
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    const device = await initiator.openDevice(big.volume.shelf, big.volume.slot, {
      listenMs: LISTEN_MS,
    });
    await device.write(pattern(MiB, 1), 0);
    await device.write(pattern(MiB, 2), BIG_BYTES - MiB);
  });

  after(async () => {
    initiator?.close();
    await lab?.close();
  });

  test("agent killed mid-clone, twice, with a delete and a create recorded meanwhile: all complete", async () => {
    const scratch = await request("POST", "/api/v1/volumes", {
      name: "scratch",
      sizeBytes: SMALL_BYTES,
      exported: false,
    });
    await succeeded(scratch.task);

    const clone = await request("POST", "/api/v1/volumes/big/clone", { name: "big-clone" });
    const first = await copying(clone, clone.task.createdMs);
    await killAgentDuringCopy(clone.volume.id);

    // While the agent is down: a delete and a create, recorded by the controller only.
    await request("DELETE", "/api/v1/volumes/scratch");
    await request("POST", "/api/v1/volumes", {
      name: "fresh",
      sizeBytes: SMALL_BYTES,
      exported: false,
    });

    // The restarted agent removes the cut copy's temporary and copies again, reporting its
    // progress (a report naming only the copy); killed again.
    const restartMs = Date.now();
    await lab.startAgent(host);
    await copying(clone, restartMs, [first]);
    await killAgentDuringCopy(clone.volume.id);

    await lab.startAgent(host);
    const listed = await converged(["big", "big-clone", "fresh"]);
    await sameContent(
      listed.find((v) => v.name === "big") as VolumeRecord,
      listed.find((v) => v.name === "big-clone") as VolumeRecord,
    );
  });

  test("controller killed right after a create, after a delete, and mid-clone: the agent retries, all complete", async () => {
    // Right after a create answered 202 (the agent has the desired state or will on restart).
    await request("POST", "/api/v1/volumes", {
      name: "late",
      sizeBytes: SMALL_BYTES,
      exported: false,
    });
    await ClusterLab.kill(lab.controller);
    await lab.waitFor("the agent to notice the controller is gone", TASK_MS_MAX, () =>
      /cannot reach the controller/.test(host.agent?.stderr ?? "") ? null : "no failed pass yet",
    );
    await lab.startController();
    await converged(["big", "big-clone", "fresh", "late"]);

    // Right after a delete answered 202.
    await request("DELETE", "/api/v1/volumes/fresh");
    await ClusterLab.kill(lab.controller);
    await lab.startController();
    await converged(["big", "big-clone", "late"]);

    // In the middle of a clone: the agent finishes the copy alone, reports once it is back.
    const clone = await request("POST", "/api/v1/volumes/big/clone", { name: "big-clone2" });
    await copying(clone, clone.task.createdMs);
    await ClusterLab.kill(lab.controller);
    await lab.waitFor(
      "the agent to finish the copy while the controller is down",
      TASK_MS_MAX,
      () => (fs.existsSync(path.join(poolDir, `${clone.volume.id}.img`)) ? null : "still copying"),
    );
    await lab.startController();
    const listed = await converged(["big", "big-clone", "big-clone2", "late"]);
    await sameContent(
      listed.find((v) => v.name === "big") as VolumeRecord,
      listed.find((v) => v.name === "big-clone2") as VolumeRecord,
    );
  });

  test("both killed right after a delete and a create answered 202, then restarted: the state converges", async () => {
    await succeeded((await request("POST", "/api/v1/volumes/big-clone/unexport")).task);
    await request("DELETE", "/api/v1/volumes/big-clone");
    await request("POST", "/api/v1/volumes", { name: "last", sizeBytes: SMALL_BYTES });
    await Promise.all([ClusterLab.kill(lab.controller), ClusterLab.kill(host.agent)]);
    await lab.startController();
    await lab.startAgent(host);
    await converged(["big", "big-clone2", "late", "last"]);
  });
});
