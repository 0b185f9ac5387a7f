import assert from "node:assert/strict";
import { test } from "node:test";
import type { AgentStatus, ObservedDomain } from "../agent-protocol.js";
import {
  CPU_REPORT_MS,
  fingerprint,
  STATUS_REFRESH_MS,
  statusDigest,
  statusDue,
} from "./status-schedule.js";
import { observedDomain } from "../testing/records.js";

const guest = (cpuTimeS: number, atMs: number, state: ObservedDomain["state"] = "running") =>
  observedDomain({ state, cpuTimeS, atMs });

const status = (domains: ObservedDomain[]): AgentStatus => ({
  inventory: { hostname: "h1", agentVersion: "0.1.0", interfaces: [] },
  pools: [],
  volumes: [],
  foreignTargets: [],
  domains,
});

test("a guest that only computes: its CPU time is sent every CPU_REPORT_MS, not every pass", () => {
  const start = 1_000_000;
  let last = fingerprint(status([guest(10, start)]), start);
  assert.ok(statusDue(undefined, last), "the first status is sent");
  const sent: number[] = [];
  // Passes every 500 ms for a minute; the guest uses a whole vCPU.
  for (let ms = start + 500; ms <= start + 60_000; ms += 500) {
    const next = fingerprint(status([guest(10 + (ms - start) / 1000, ms)]), ms);
    assert.equal(next.digest, last.digest, "CPU time and atMs are not in the digest");
    if (statusDue(last, next)) {
      sent.push(ms - start);
      last = next;
    }
  }
  assert.equal(sent.length, 60_000 / CPU_REPORT_MS, sent.join(","));
  assert.ok(
    sent.every((ms, i) => ms - (sent[i - 1] ?? 0) === CPU_REPORT_MS),
    sent.join(","),
  );
});

test("nothing moved: sent again only every STATUS_REFRESH_MS; a real change at once", () => {
  const start = 5_000;
  const idle = status([guest(10, start, "paused")]);
  const first = fingerprint(idle, start);
  for (let ms = start + 500; ms < start + STATUS_REFRESH_MS; ms += 500)
    assert.equal(statusDue(first, fingerprint(idle, ms)), false, `${ms - start} ms`);
  assert.ok(statusDue(first, fingerprint(idle, start + STATUS_REFRESH_MS)));
  const crashed = status([guest(10, start + 100, "crashed")]);
  assert.notEqual(statusDigest(crashed), statusDigest(idle));
  assert.ok(statusDue(first, fingerprint(crashed, start + 100)), "a state change goes at once");
});

test("free memory moves the digest only by 64 MiB steps", () => {
  const withFree = (freeMemoryMiB: number): AgentStatus => ({
    ...status([]),
    inventory: {
      hostname: "h1",
      agentVersion: "0.1.0",
      interfaces: [],
      hypervisor: {
        kind: "qemu",
        version: "8",
        detail: "tcg",
        cpus: 2,
        totalMemoryMiB: 4096,
        freeMemoryMiB,
        otherGuests: [],
      },
    },
  });
  assert.equal(statusDigest(withFree(1000)), statusDigest(withFree(1010)));
  assert.notEqual(statusDigest(withFree(1000)), statusDigest(withFree(1200)));
});
