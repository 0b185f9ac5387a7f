import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { IN_MEMORY } from "../store/sqlite/open-database.js";
import { openSqliteStore } from "../store/sqlite/sqlite-store.js";
import { Controller } from "./controller.js";

describe("desired state by revision (long-poll)", () => {
  test("the same content keeps its revision; a change wakes a waiting poll at once", async () => {
    const controller = new Controller(await openSqliteStore(IN_MEMORY));
    const host = await controller.agents.registerHost({
      name: "s1",
      roles: ["storage"],
      exportInterfaces: ["san0"],
    });
    const first = await controller.agents.desired(host.id);
    assert.equal((await controller.agents.desired(host.id)).revision, first.revision);
    // Unchanged: a poll with a short wait answers null (HTTP 204) once the wait is over.
    assert.equal(await controller.agents.desiredAfter(host.id, first.revision, 50), null);
    // A long wait ends as soon as something of the host's desired state changes.
    const waiting = controller.agents.desiredAfter(host.id, first.revision, 60_000);
    await controller.createPool({ host: "s1", name: "p", kind: "directory", path: "/srv/p" });
    const changed = await waiting;
    assert.ok(changed, "woken with the new state");
    assert.notEqual(changed.revision, first.revision);
    assert.deepEqual(
      changed.pools.map((p) => p.name),
      ["p"],
    );
    // A stale revision answers at once.
    assert.equal(
      (await controller.agents.desiredAfter(host.id, "old", 60_000))?.revision,
      changed.revision,
    );
    controller.agents.watch.close();
  });

  test("reports that only refresh observations wake nobody", async () => {
    const controller = new Controller(await openSqliteStore(IN_MEMORY));
    const host = await controller.agents.registerHost({
      name: "s1",
      roles: ["storage"],
      exportInterfaces: [],
    });
    // The host's creation wakes waiters (coalesced, a few ms later): let that pass first.
    await new Promise((r) => setTimeout(r, 100));
    const epoch = controller.agents.watch.epoch;
    await controller.agents.report(host.id, {
      inventory: { hostname: "s1", agentVersion: "t", interfaces: [] },
      pools: [],
      volumes: [],
      foreignTargets: [],
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(controller.agents.watch.epoch, epoch, "no wake-up for an inventory");
    await controller.createPool({ host: "s1", name: "p", kind: "directory", path: "/srv/p" });
    for (let i = 0; i < 100 && controller.agents.watch.epoch === epoch; i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.ok(controller.agents.watch.epoch > epoch, "a pool is desired state: woken");
    controller.agents.watch.close();
  });
});
