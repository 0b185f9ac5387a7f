import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
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
    const epoch = controller.agents.watch.epochOf(host.id);
    await controller.agents.report(host.id, {
      inventory: { hostname: "s1", agentVersion: "t", interfaces: [] },
      pools: [],
      volumes: [],
      foreignTargets: [],
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(controller.agents.watch.epochOf(host.id), epoch, "no wake-up for an inventory");
    await controller.createPool({ host: "s1", name: "p", kind: "directory", path: "/srv/p" });
    for (let i = 0; i < 100 && controller.agents.watch.epochOf(host.id) === epoch; i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.ok(controller.agents.watch.epochOf(host.id) > epoch, "a pool is desired state: woken");
    controller.agents.watch.close();
  });

  test("a change wakes only the hosts it concerns; the others keep their cached state", async () => {
    const controller = new Controller(await openSqliteStore(IN_MEMORY));
    const join = (name: string) =>
      controller.agents.registerHost({ name, roles: ["storage"], exportInterfaces: [] });
    const s1 = await join("s1");
    const s2 = await join("s2");
    await new Promise((r) => setTimeout(r, 100)); // the joins' own wake-ups pass
    const first1 = await controller.agents.desired(s1.id);
    const first2 = await controller.agents.desired(s2.id);
    // Nothing changed: the very same state, from the cache.
    assert.equal(await controller.agents.desired(s1.id), first1);
    const epoch2 = controller.agents.watch.epochOf(s2.id);
    let woken2 = false;
    const waiting2 = controller.agents.desiredAfter(s2.id, first2.revision, 60_000).then((d) => {
      woken2 = true;
      return d;
    });
    const waiting1 = controller.agents.desiredAfter(s1.id, first1.revision, 60_000);
    await controller.createPool({ host: "s1", name: "p", kind: "directory", path: "/srv/p" });
    const changed1 = await waiting1;
    assert.deepEqual(
      changed1?.pools.map((p) => p.name),
      ["p"],
    );
    assert.equal(controller.agents.watch.epochOf(s2.id), epoch2, "s2 was not concerned");
    assert.equal(woken2, false, "s2's long-poll still waits");
    assert.equal(await controller.agents.desired(s2.id), first2, "s2's state still cached");
    // A change that cannot say whom it concerns moves everyone's epoch; s2's state is the same
    // content, so its long-poll computes it again and waits on.
    controller.agents.watch.changed("all");
    for (let i = 0; i < 500 && controller.agents.watch.epochOf(s2.id) === epoch2; i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.ok(controller.agents.watch.epochOf(s2.id) > epoch2);
    const again2 = await controller.agents.desired(s2.id);
    assert.notEqual(again2, first2, "computed again");
    assert.equal(again2.revision, first2.revision, "to the same revision");
    assert.equal(woken2, false);
    // Closing (the controller stops) ends the long-poll now, not when its 60 s are over: it
    // would otherwise hold the HTTP server open.
    controller.agents.watch.close();
    const ended = await Promise.race([waiting2, sleep(10_000, "still waiting", { ref: false })]);
    assert.equal(ended, null);
    assert.equal(await controller.agents.desiredAfter(s2.id, first2.revision, 60_000), null);
  });

  test("a console opened wakes its host, whose state is then computed again", async () => {
    const controller = new Controller(await openSqliteStore(IN_MEMORY));
    const host = await controller.agents.registerHost({
      name: "c1",
      roles: ["compute"],
      exportInterfaces: [],
    });
    await new Promise((r) => setTimeout(r, 100)); // the join's own wake-up passes
    const before = await controller.agents.desired(host.id);
    const epoch = controller.agents.watch.epochOf(host.id);
    controller.consoles.onOpen(host.id);
    for (let i = 0; i < 500 && controller.agents.watch.epochOf(host.id) === epoch; i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.ok(controller.agents.watch.epochOf(host.id) > epoch, "the console's host is woken");
    // The host's epoch moved: its state is computed again rather than served from the cache.
    assert.notEqual(await controller.agents.desired(host.id), before);
    controller.agents.watch.close();
  });
});
