/**
 * Two storage hosts as separate machines: `etherplane controller` and two `etherplane agent`
 * processes, each in its own network namespace (the API over a private IP lan, AoE on a shared
 * segment), and two initiators on that segment. Through the HTTP API: a pool on each host, volumes
 * on both with cluster-unique AoE addresses, each served by its own host with its bytes in that
 * host's pool; a volume is seen only by the MACs allowed on it (AoE MAC mask), by everyone only
 * when an admin opens it, and by nobody once its last MAC is denied.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { pattern, startInitiator } from "../../test/lab/aoe-lab.js";
import { ClusterLab, type StorageHost } from "../../test/lab/cluster-lab.js";
import type { AoeInitiator } from "../aoe/initiator/aoe-initiator.js";
import type { HostRecord, PoolRecord, TaskRecord, VolumeRecord } from "../cluster/model.js";

const MiB = 1024 * 1024;
const ALLOWED_MAC = "02:ee:00:00:01:01";
const OTHER_MAC = "02:ee:00:00:02:01";
const TASK_MS_MAX = 15_000;
const LISTEN_MS = 400;

describe("two storage hosts: one controller, two agents, volumes on both over AoE", () => {
  let lab: ClusterLab;
  let storage: StorageHost[] = [];
  let allowed: AoeInitiator;
  let other: AoeInitiator;
  /** Volume name -> the storage host meant to hold it. */
  const placement = new Map<string, StorageHost>();

  const poolDir = (host: StorageHost) => path.join(lab.dir, `pool-${host.name}`);
  const volume = async (name: string) => {
    const reply = await lab.call<{ volume: VolumeRecord }>("GET", `/api/v1/volumes/${name}`);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    return reply.body.volume;
  };

  async function settled(task: TaskRecord): Promise<TaskRecord> {
    let last = task;
    await lab.waitFor(`task ${task.id} (${task.kind})`, TASK_MS_MAX, async () => {
      last = (await lab.call<{ task: TaskRecord }>("GET", `/api/v1/tasks/${task.id}`)).body.task;
      return last.state === "running" || last.state === "queued"
        ? `${last.state}: ${last.message}`
        : null;
    });
    return last;
  }

  /** A mutating call that must answer 202 and whose task must succeed. */
  async function mutate(method: string, route: string, body?: unknown): Promise<VolumeRecord> {
    const reply = await lab.call<{ volume: VolumeRecord; task: TaskRecord }>(method, route, body);
    assert.equal(reply.status, 202, `${method} ${route}: ${JSON.stringify(reply.body)}`);
    const task = await settled(reply.body.task);
    assert.equal(task.state, "succeeded", JSON.stringify(task));
    return reply.body.volume;
  }

  before(async () => {
    lab = await ClusterLab.create("two");
    await lab.startController();
    storage = [await lab.storageHost("storage1"), await lab.storageHost("storage2")];
    for (const host of storage) await lab.startAgent(host);
    allowed = startInitiator(await lab.initiatorHost("inia", ALLOWED_MAC), ["aoe0"]);
    other = startInitiator(await lab.initiatorHost("inib", OTHER_MAC), ["aoe0"]);
  });

  after(async () => {
    allowed?.close();
    other?.close();
    await lab?.close();
  });

  test("both agents join over the lan and report their hosts; each host gets a directory pool", async () => {
    await lab.waitFor("both hosts to report", TASK_MS_MAX, async () => {
      const { body } = await lab.call<{ hosts: HostRecord[] }>("GET", "/api/v1/hosts");
      const seen = body.hosts.filter(
        (h) => h.lastSeenMs !== null && h.inventory?.interfaces.some((i) => i.ifname === "aoe0"),
      );
      return seen.length === 2 ? null : `reported: ${seen.map((h) => h.name).join(", ")}`;
    });
    const { body } = await lab.call<{ hosts: HostRecord[] }>("GET", "/api/v1/hosts");
    assert.deepEqual(body.hosts.map((h) => h.name).sort(), ["storage1", "storage2"]);
    for (const host of body.hosts) assert.deepEqual(host.exportInterfaces, ["aoe0"]);

    for (const [i, host] of storage.entries()) {
      const reply = await lab.call<{ pool: PoolRecord }>("POST", "/api/v1/pools", {
        host: host.name,
        name: `p${i + 1}`,
        kind: "directory",
        path: poolDir(host),
      });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
    }
    await lab.waitFor("both agents to open their pools", TASK_MS_MAX, async () => {
      const { body: pools } = await lab.call<{ pools: PoolRecord[] }>("GET", "/api/v1/pools");
      const open = pools.pools.filter((p) => p.capacityBytes !== null);
      return open.length === 2 ? null : `opened: ${open.map((p) => p.name).join(", ")}`;
    });
    for (const host of storage) assert.ok(fs.statSync(poolDir(host)).isDirectory());
  });

  test("volumes on both hosts, created at once: unique AoE addresses, each served by its own host, bytes in its pool", async () => {
    const specs = [
      { name: "a1", pool: "p1", host: storage[0] },
      { name: "b1", pool: "p2", host: storage[1] },
      { name: "a2", pool: "p1", host: storage[0] },
      { name: "b2", pool: "p2", host: storage[1] },
    ];
    // Concurrent requests, as two admins would make them: each must get its own address.
    await Promise.all(
      specs.map(({ name, pool }) =>
        mutate("POST", "/api/v1/volumes", { name, pool, sizeBytes: 8 * MiB, allow: [ALLOWED_MAC] }),
      ),
    );
    const { body: hostList } = await lab.call<{ hosts: HostRecord[] }>("GET", "/api/v1/hosts");
    const hostId = (host: StorageHost) => hostList.hosts.find((h) => h.name === host.name)?.id;
    const volumes: VolumeRecord[] = [];
    for (const spec of specs) {
      assert.ok(spec.host);
      placement.set(spec.name, spec.host);
      const v = await volume(spec.name);
      assert.equal(v.state, "ready");
      assert.equal(v.hostId, hostId(spec.host), `${spec.name} is recorded on ${spec.host.name}`);
      volumes.push(v);
    }
    const addresses = volumes.map((v) => `e${v.shelf}.${v.slot}`);
    assert.equal(
      new Set(addresses).size,
      4,
      `unique addresses across hosts: ${addresses.join(" ")}`,
    );

    // One discovery sees all four, each answered by the MAC of its own host's target.
    const found = await allowed.discover({ listenMs: LISTEN_MS });
    for (const v of volumes) {
      const target = found.find((t) => t.shelf === v.shelf && t.slot === v.slot);
      assert.ok(target, `e${v.shelf}.${v.slot} (${v.name}) is discovered`);
      const host = placement.get(v.name) as StorageHost;
      const hostMac = await host.ns.mac(host.aoeIf);
      assert.deepEqual(
        target.paths.map((p) => p.mac),
        [hostMac],
        `${v.name} is served by ${host.name} only`,
      );
      assert.equal(target.identify?.sectors, (8 * MiB) / 512);
      assert.equal(target.identify?.model.trim(), `etherplane ${v.name}`);
    }

    for (const [i, v] of volumes.entries()) {
      const data = pattern(MiB, 10 + i);
      const device = await allowed.openDevice(v.shelf, v.slot, { listenMs: LISTEN_MS });
      await device.write(data, 3 * MiB);
      const back = Buffer.alloc(MiB);
      await device.read(back, 3 * MiB);
      assert.ok(back.equals(data), `${v.name} reads back what was written over AoE`);
      const host = placement.get(v.name) as StorageHost;
      const file = path.join(poolDir(host), `${v.id}.img`);
      const onDisk = Buffer.alloc(MiB);
      const fd = fs.openSync(file, "r");
      try {
        fs.readSync(fd, onDisk, 0, MiB, 3 * MiB);
      } finally {
        fs.closeSync(fd);
      }
      assert.ok(onDisk.equals(data), `${v.name}'s bytes are in ${host.name}'s pool file`);
      for (const elsewhere of storage.filter((h) => h !== host)) {
        assert.equal(
          fs.existsSync(path.join(poolDir(elsewhere), `${v.id}.img`)),
          false,
          `${v.name} has no file on ${elsewhere.name}`,
        );
      }
    }
  });

  test("access: each volume is seen only by the MACs allowed on it; everyone only when an admin says so; deny of the last MAC closes it", async () => {
    const [a1, b1, a2, b2] = await Promise.all(["a1", "b1", "a2", "b2"].map(volume));
    assert.ok(a1 && b1 && a2 && b2);
    const seenBy = async (initiator: AoeInitiator) =>
      (await initiator.discover({ listenMs: LISTEN_MS }))
        .map((t) => `e${t.shelf}.${t.slot}`)
        .sort();
    const names = (...vs: VolumeRecord[]) => vs.map((v) => `e${v.shelf}.${v.slot}`).sort();
    assert.deepEqual(await seenBy(other), [], "a MAC nobody allowed sees nothing on the segment");
    await assert.rejects(
      other.openDevice(b1.shelf, b1.slot, { listenMs: LISTEN_MS }),
      /no AoE target answered/,
    );

    await mutate("POST", "/api/v1/volumes/a1/allow", { macs: [OTHER_MAC] });
    await mutate("POST", "/api/v1/volumes/b2/allow", { everyone: true });
    assert.deepEqual(await seenBy(other), names(a1, b2), "a1 by its MAC, b2 by everyone");
    const back = Buffer.alloc(MiB);
    const viaOther = await other.openDevice(a1.shelf, a1.slot, { listenMs: LISTEN_MS });
    await viaOther.read(back, 3 * MiB);
    assert.ok(back.equals(pattern(MiB, 10)), "the newly allowed MAC reads a1");

    // Denying b1's only MAC closes it (an empty AoE mask would have opened it to everyone).
    await mutate("POST", "/api/v1/volumes/b1/deny", { macs: [ALLOWED_MAC] });
    assert.deepEqual((await volume("b1")).allow, []);
    assert.deepEqual(await seenBy(allowed), names(a1, a2, b2), "b1 is gone for the allowed MAC");
    assert.deepEqual(await seenBy(other), names(a1, b2), "and was never there for the other");
    await mutate("POST", "/api/v1/volumes/b2/deny", { everyone: true });
    assert.deepEqual(await seenBy(other), names(a1));
  });
});
