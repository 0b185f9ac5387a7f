import assert from "node:assert/strict";
import { test } from "node:test";
import type { AgentStatus, ObservedDomain } from "../cluster/agent-protocol.js";
import { observedDomain } from "../cluster/testing/records.js";
import { HostMetrics } from "./host-metrics.js";

function guest(id: string, domid: number | null, cpuTimeS: number): ObservedDomain {
  const state = domid === null ? "stopped" : "running";
  return observedDomain({ id, state, domid, flags: "r-----", memoryMiB: 256, cpuTimeS });
}

function report(freeMiB: number, domains?: ObservedDomain[], poolFree = 600): AgentStatus {
  return {
    inventory: {
      hostname: "h",
      agentVersion: "0",
      interfaces: [],
      hypervisor: {
        kind: "qemu",
        version: "8",
        detail: "",
        cpus: 4,
        totalMemoryMiB: 4096,
        freeMemoryMiB: freeMiB,
        otherGuests: [],
      },
    },
    pools: [
      { id: "p1", capacityBytes: 1000, freeBytes: poolFree, error: null },
      { id: "p2", capacityBytes: 500, freeBytes: 0, error: "gone" },
    ],
    volumes: [],
    foreignTargets: [],
    ...(domains ? { domains } : {}),
  };
}

test("memory, pools and the guests' CPU load per second between reports", () => {
  const m = new HostMetrics(10, 10, 5000);
  m.record("h1", report(3072, [guest("d1", 3, 10), guest("d2", 4, 5)]), 0);
  m.record(
    "h1",
    report(2048, [guest("d1", 3, 20), guest("d2", 4, 10), guest("d3", null, 0)]),
    10_000,
  );
  const [host] = m.list();
  assert.equal(host?.hostId, "h1");
  assert.deepEqual(
    host?.samples.map((s) => [s.memoryUsedMiB, s.cpuLoad, s.poolUsedBytes, s.poolCapacityBytes]),
    [
      [1024, null, 400, 1000],
      // (10 + 5) CPU-seconds over 10 s; the failing pool is left out.
      [2048, 1.5, 400, 1000],
    ],
  );
});

test("a restarted guest (new domid) or a storage-only host gives no false load", () => {
  const m = new HostMetrics(10, 10, 0);
  m.record("h1", report(0, [guest("d1", 3, 500)]), 0);
  m.record("h1", report(0, [guest("d1", 4, 2)]), 1000);
  m.record("h1", report(0, [guest("d1", 4, 3)]), 2000);
  assert.deepEqual(
    m.list()[0]?.samples.map((s) => s.cpuLoad),
    [null, 0, 1],
  );
  m.record("s1", report(0), 0);
  m.record("s1", report(0), 1000);
  assert.deepEqual(
    m.list()[1]?.samples.map((s) => s.cpuLoad),
    [null, null],
  );
});

test("bounded: samples per host, at most one per interval, hosts (the stalest goes)", () => {
  const m = new HostMetrics(3, 2, 5000);
  for (let i = 0; i < 10; i++) m.record("h1", report(i), i * 5000);
  m.record("h1", report(99), 45_001); // too soon after the last
  const samples = m.list()[0]?.samples ?? [];
  assert.deepEqual(
    samples.map((s) => s.atMs),
    [35_000, 40_000, 45_000],
  );
  m.record("h2", report(0), 50_000);
  m.record("h3", report(0), 50_000);
  assert.deepEqual(
    m.list().map((h) => h.hostId),
    ["h2", "h3"],
  );
  m.forget("h2");
  assert.deepEqual(
    m.list().map((h) => h.hostId),
    ["h3"],
  );
});

test("AoE exports' throughput per second between reports; a restarted target counts again", () => {
  const m = new HostMetrics(10, 10, 0);
  const storage = (io: Array<[string, number, number] | [string]>): AgentStatus => ({
    ...report(0),
    volumes: io.map(([id, readBytes, writtenBytes]) => ({
      id,
      present: true,
      sizeBytes: 1 << 20,
      allocatedBytes: 0,
      appliedGeneration: 1,
      error: null,
      progress: null,
      ...(readBytes === undefined ? {} : { io: { readBytes, writtenBytes: writtenBytes ?? 0 } }),
    })),
  });
  m.record("s1", storage([["v1", 0, 0], ["v2", 100, 0], ["v3"]]), 0);
  m.record("s1", storage([["v1", 4000, 2000], ["v2", 100, 0], ["v3"]]), 2000);
  // The target restarted: v1's counters are lower than before.
  m.record(
    "s1",
    storage([
      ["v1", 10, 0],
      ["v2", 1100, 0],
    ]),
    3000,
  );
  const samples = m.list()[0]?.samples ?? [];
  assert.deepEqual(
    samples.map((s) => s.exports),
    [
      [],
      // Busiest first; an unexported volume (no io) is not charted.
      [
        { volumeId: "v1", readBps: 2000, writeBps: 1000 },
        { volumeId: "v2", readBps: 0, writeBps: 0 },
      ],
      [{ volumeId: "v2", readBps: 1000, writeBps: 0 }],
    ],
  );
});
