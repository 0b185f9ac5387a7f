/**
 * The store's record of each domain's (desired running, observed running) changes, on SQLite in
 * memory with an injected clock, and the availability computed from it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { domainAvailability } from "../../controller/domain-availability.js";
import type { DomainObserved, DomainRecord } from "../../model.js";
import { IN_MEMORY } from "./open-database.js";
import { DOMAIN_STATE_CHANGES_MAX } from "./domain-table.js";
import { openSqliteStore } from "./sqlite-store.js";

const T0 = 1_700_000_000_000;

function domain(): DomainRecord {
  return {
    ...{ id: "dom-avail", name: "avail", uuid: crypto.randomUUID(), config: 'name = "avail"\n' },
    ...{ memoryMiB: 64, vcpus: 1, disks: [], vifs: [], allowedUnsafe: [], antiAffinity: null },
    ...{ onPoweroff: "destroy", onReboot: "restart", onCrash: "restart", pinHosts: [] },
    ...{ hostId: null, placed: null, desiredState: "stopped", stopMode: "shutdown" },
    ...{ shutdownTimeoutS: 60, rebootSeq: 0, observed: null, ha: null, haPriority: 0 },
    ...{ generation: 1, createdMs: T0, updatedMs: T0 },
  };
}

const seen = (state: DomainObserved["state"]): DomainObserved => ({
  ...{ state, domid: state === "running" ? 3 : null, flags: "-b----", memoryMiB: 64, vcpus: 1 },
  ...{ cpuTimeS: 1, appliedGeneration: 2, appliedRebootSeq: 0, lastExit: null, restarts: 0 },
  ...{ error: null, atMs: T0 },
});

test("each change of (wanted running, running) is kept with its time, and availability follows", async () => {
  let nowMs = T0;
  const store = await openSqliteStore(IN_MEMORY, { nowMs: () => nowMs });
  const d = domain();
  await store.createDomain(d);
  nowMs = T0 + 10_000;
  await store.updateDomain(d.id, { desiredState: "running" });
  nowMs = T0 + 12_000;
  await store.observeDomain(d.id, seen("running"));
  nowMs = T0 + 13_000;
  await store.observeDomain(d.id, seen("running")); // no change: no row
  await store.updateDomain(d.id, { rebootSeq: 1 }); // no change of the pair: no row
  nowMs = T0 + 100_000;
  await store.observeDomain(d.id, seen("stopped")); // its host died
  nowMs = T0 + 108_000;
  await store.observeDomain(d.id, seen("running")); // restarted elsewhere
  const changes = await store.listDomainStateChanges(d.id);
  assert.deepEqual(changes, [
    { timeMs: T0, wanted: false, up: false },
    { timeMs: T0 + 10_000, wanted: true, up: false },
    { timeMs: T0 + 12_000, wanted: true, up: true },
    { timeMs: T0 + 100_000, wanted: true, up: false },
    { timeMs: T0 + 108_000, wanted: true, up: true },
  ]);
  const a = domainAvailability(changes, T0 + 210_000);
  assert.equal(a.sinceCreated.wantedMs, 200_000);
  assert.equal(a.sinceCreated.upMs, 190_000);
  assert.equal(a.sinceCreated.percent, 95);

  await store.deleteDomain(d.id);
  assert.deepEqual(await store.listDomainStateChanges(d.id), [], "gone with the domain");
  await store.close();
});

test("a flapping domain keeps only the newest changes", async () => {
  let nowMs = T0;
  const store = await openSqliteStore(IN_MEMORY, { nowMs: () => nowMs });
  const d = { ...domain(), desiredState: "running" as const };
  await store.createDomain(d);
  for (let i = 0; i < DOMAIN_STATE_CHANGES_MAX + 10; i++) {
    nowMs += 1000;
    await store.observeDomain(d.id, seen(i % 2 === 0 ? "running" : "stopped"));
  }
  const changes = await store.listDomainStateChanges(d.id);
  assert.equal(changes.length, DOMAIN_STATE_CHANGES_MAX);
  assert.equal(changes.at(-1)?.timeMs, nowMs, "the newest kept");
  await store.close();
});
