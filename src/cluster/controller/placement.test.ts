/** Placement's rules, one by one, on records made here (pure: no store, no agent). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import type { DomainRecord, HostRecord, NetworkRecord, VolumeRecord } from "../model.js";
import {
  assessHost,
  placeDomain,
  planPlacement,
  type PlacementInput,
  type PlacementSettings,
} from "./placement.js";

const NOW = 1_000_000;

function host(name: string, cpus = 4, memoryMiB = 4096, over: Partial<HostRecord> = {}) {
  const record: HostRecord = {
    ...{ id: `host-${name}`, name, roles: ["compute"], exportInterfaces: [] },
    inventory: {
      hostname: name,
      agentVersion: "test",
      interfaces: [{ ifname: "san0", mac: "52:54:00:00:00:01", mtu: 1500, up: true }],
      sanInterfaces: ["san0"],
      hypervisor: {
        ...{ kind: "fake", version: "1", detail: "", cpus },
        ...{ totalMemoryMiB: memoryMiB, freeMemoryMiB: memoryMiB, otherGuests: [] },
      },
    },
    ...{ lastSeenMs: NOW, maintenance: null, createdMs: 1 },
    ...over,
  };
  return record;
}

function domain(name: string, over: Partial<DomainRecord> = {}): DomainRecord {
  return {
    ...{ id: `dom-${name}`, name, uuid: `uuid-${name}`, config: "", memoryMiB: 1024, vcpus: 1 },
    disks: [{ vdev: "xvda", target: "/dev/etherd/e1.0", readOnly: false, volumeId: `vol-${name}` }],
    vifs: [{ mac: "00:16:3e:00:00:01", bridge: "br0" }],
    ...{ onPoweroff: "destroy", onReboot: "restart", onCrash: "restart", allowedUnsafe: [] },
    ...{ antiAffinity: null, pinHosts: [], hostId: null, placed: null, desiredState: "stopped" },
    ...{ stopMode: "shutdown", shutdownTimeoutS: 60, rebootSeq: 0, observed: null },
    ...{ generation: 1, createdMs: 1, updatedMs: 1 },
    ...over,
  };
}

/** Running on `hostId` as placed, not yet reported (its memory counts as promised). */
function runningOn(d: DomainRecord, hostId: string): DomainRecord {
  return { ...d, hostId, desiredState: "running" };
}

function volume(id: string): VolumeRecord {
  return {
    ...{ id, name: id, kind: "volume", poolId: "p", hostId: "host-s", sizeBytes: 1 },
    ...{ allocatedBytes: null, sourceId: null, shelf: 1, slot: 0, exported: true, allow: [] },
    ...{ allowEveryone: false, grants: [], appliedGeneration: 1, state: "ready", error: null },
    ...{ generation: 1, createdMs: 1, updatedMs: 1 },
  };
}

function network(hostId: string, bridge = "br0"): NetworkRecord {
  const id = `net-${hostId}-${bridge}`;
  return {
    id,
    name: bridge,
    hostId,
    bridge,
    uplink: null,
    vlanId: null,
    error: null,
    createdMs: 1,
  };
}

function input(
  d: DomainRecord,
  hosts: HostRecord[],
  others: DomainRecord[] = [],
  settings?: PlacementSettings,
): PlacementInput {
  return {
    domain: d,
    hosts,
    domains: [d, ...others],
    networks: hosts.map((h) => network(h.id)),
    volumes: new Map(d.disks.map((disk) => [disk.volumeId ?? "", volume(disk.volumeId ?? "")])),
    nowMs: NOW,
    ...(settings ? { settings } : {}),
  };
}

const chosen = (i: PlacementInput) => {
  const plan = planPlacement(i);
  return plan.hosts.find((h) => h.hostId === plan.chosenHostId)?.hostName ?? null;
};

describe("placement", () => {
  test("most room wins, and the score says why", () => {
    const [a, b] = [host("a"), host("b")];
    const web = domain("web");
    const plan = planPlacement(input(web, [a, b], [runningOn(domain("busy"), a.id)]));
    assert.equal(plan.chosenHostId, b.id);
    assert.match(plan.reason, /^b: the highest score \(\d+\) of 2 hosts that fit$/);
    const [ra, rb] = plan.hosts;
    assert.ok((rb?.score ?? 0) > (ra?.score ?? 0));
    assert.match(rb?.summary ?? "", /fits: 3072 MiB of 4096 left after, 15 of 16 vCPUs left after/);
    assert.match(ra?.summary ?? "", /fits: 2048 MiB of 4096 left after, 14 of 16 vCPUs left after/);
  });

  test("vCPUs: at most the host's CPUs for one guest, and cpu_overcommit for all", () => {
    const a = host("a", 2);
    const big = domain("big", { vcpus: 4 });
    assert.deepEqual(assessHost(a, input(big, [a])).reasons, [
      "domain big wants 4 vCPUs but host a has 2 CPUs",
    ]);
    const two = domain("two", { vcpus: 2 });
    const others = [runningOn(domain("o1", { vcpus: 2, memoryMiB: 1 }), a.id)];
    const tight = { cpuOvercommit: 1.5, memoryOvercommit: 1 };
    // 2 CPUs x 1.5 = 3 vCPUs; 2 are taken.
    assert.deepEqual(assessHost(a, input(two, [a], others, tight)).reasons, [
      "domain two wants 2 vCPUs but host a has 1 of 3 left (2 CPUs x cpu_overcommit 1.5)",
    ]);
    assert.equal(assessHost(a, input(two, [a], others, { ...tight, cpuOvercommit: 2 })).fits, true);
  });

  test("memory: free less promised, and memory_overcommit lends beyond it", () => {
    const a = host("a", 4, 2048);
    const d = domain("d", { memoryMiB: 1536 });
    const promised = [runningOn(domain("p", { memoryMiB: 1024 }), a.id)];
    assert.deepEqual(assessHost(a, input(d, [a], promised)).reasons, [
      "domain d wants 1536 MiB but host a has 1024 MiB free",
    ]);
    const over = { cpuOvercommit: 4, memoryOvercommit: 1.5 };
    const fit = assessHost(a, input(d, [a], promised, over));
    assert.equal(fit.fits, true, fit.summary);
    assert.equal(fit.memoryLeftMiB, 512, "1024 free + 0.5 x 2048 lent - 1536");
  });

  test("a host in maintenance, without the bridge, or not reporting gets nothing, each with why", () => {
    const m = host("m", 4, 4096, {
      maintenance: { sinceMs: 1, by: "admin", taskId: null, stoppedDomainIds: [] },
    });
    const stale = host("s", 4, 4096, { lastSeenMs: NOW - 60_000 });
    const nobridge = host("n");
    const d = domain("d");
    const i = { ...input(d, [m, stale, nobridge]), networks: [network(m.id), network(stale.id)] };
    const plan = planPlacement(i);
    assert.equal(plan.chosenHostId, null);
    const why = Object.fromEntries(plan.hosts.map((h) => [h.hostName, h.reasons]));
    assert.deepEqual(why["m"], ["host m is in maintenance (etherplane host activate m ends it)"]);
    assert.deepEqual(why["s"], ["host s's agent has not reported for over 30 s"]);
    assert.deepEqual(why["n"], [
      "host n has no network with bridge br0; create one: etherplane network create br0 --host n",
    ]);
    assert.match(plan.reason, /^no host can run it: host m is in maintenance/);
    assert.throws(
      () => placeDomain(i),
      (e: unknown) => isEtherplaneError(e, "CONFLICT") && /etherplane place d/.test(e.message),
    );
    assert.throws(
      () => placeDomain(i, "m"),
      (e: unknown) =>
        isEtherplaneError(e, "CONFLICT") && /host m is in maintenance/.test(e.message),
      "a named host in maintenance is refused too",
    );
  });

  test("pinning: only the named hosts, even when another has more room", () => {
    const [a, b, c] = [host("a"), host("b", 16, 65536), host("c")];
    const d = domain("d", { pinHosts: [a.id, c.id] });
    const i = input(d, [a, b, c], [runningOn(domain("x"), a.id)]);
    assert.equal(chosen(i), "c");
    assert.deepEqual(assessHost(b, i).reasons, [
      "domain d is pinned to a, c (etherplane domain set d --pin HOST,... changes it)",
    ]);
    assert.throws(() => placeDomain(i, "b"), /pinned to a, c/);
  });

  test("anti-affinity: two of a group never share a host while another fits", () => {
    const [a, b] = [host("a", 4, 8192), host("b", 4, 2048)];
    const web1 = runningOn(domain("web1", { antiAffinity: "web" }), a.id);
    const web2 = domain("web2", { antiAffinity: "web" });
    const i = input(web2, [a, b], [web1]);
    // a has more room, but web1 runs there.
    assert.equal(chosen(i), "b");
    assert.match(
      planPlacement(i).reason,
      /^b: the only host that fits, leaving out hosts that run anti-affinity group web$/,
    );
    assert.deepEqual(assessHost(a, i).groupPeers, ["web1"]);
    assert.match(assessHost(a, i).summary, /shares the host with web1 \(anti-affinity group web\)/);
    // A domain of another group, or of none, is not kept apart.
    assert.equal(chosen(input(domain("db", { antiAffinity: "db" }), [a, b], [web1])), "a");
    // When no other host fits, sharing beats not running.
    const full = host("b", 4, 512);
    const shared = input(web2, [a, full], [web1]);
    assert.equal(chosen(shared), "a");
    assert.match(planPlacement(shared).reason, /every host that fits runs anti-affinity group web/);
    // A stopped member does not count.
    const stopped = { ...web1, desiredState: "stopped" as const };
    assert.equal(chosen(input(web2, [a, b], [stopped])), "a");
  });

  test("a disk problem refuses every host, said once", () => {
    const a = host("a");
    const d = domain("d", {
      disks: [{ vdev: "xvda", target: "/dev/vg/x", readOnly: false, volumeId: null }],
    });
    const plan = planPlacement(input(d, [a]));
    assert.equal(plan.chosenHostId, null);
    assert.match(plan.problem ?? "", /xvda: \/dev\/vg\/x is not an etherplane volume/);
  });

  test("excluded hosts (a move's source) say why; ties go by name", () => {
    const [a, b, c] = [host("a"), host("b"), host("c")];
    const i = { ...input(domain("d"), [a, b, c]), exclude: new Map([[a.id, "d runs on a now"]]) };
    assert.deepEqual(assessHost(a, i).reasons, ["d runs on a now"]);
    assert.equal(chosen(i), "b");
  });
});
