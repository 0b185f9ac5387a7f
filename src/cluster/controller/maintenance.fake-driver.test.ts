/**
 * Maintenance on a FAKE cluster (testing/fake-cluster-bench.ts): three compute hosts, one
 * storage host, the real controller, store and reconcilers. Domains move live (the fake
 * driver's migration); a domain pinned to the host is refused with its reason unless
 * --allow-restart, which stops it for the maintenance (activate starts it).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { TaskRecord } from "../model.js";
import { rejectsWith } from "./testing/fake-domain-bench.js";
import { fakeClusterBench } from "./testing/fake-cluster-bench.js";

async function threeOnH1() {
  const b = await fakeClusterBench([
    { name: "h1", totalMemoryMiB: 8192 },
    { name: "h2", totalMemoryMiB: 4096 },
    { name: "h3", totalMemoryMiB: 4096 },
  ]);
  const h1 = b.computes.get("h1")?.record;
  assert.ok(h1);
  for (const name of ["db", "web1", "web2"]) await b.domain(name, 512, "h1");
  await b.controller.domainSettings.set("web1", { antiAffinity: "web" }, "admin");
  await b.controller.domainSettings.set("web2", { antiAffinity: "web" }, "admin");
  await b.controller.domainSettings.set("db", { pin: ["h1"] }, "admin");
  await b.settle("three running on h1", async () =>
    Object.values(await b.whereabouts()).every((w) => w === "h1/running"),
  );
  return { ...b, h1 };
}

async function finished(b: Awaited<ReturnType<typeof threeOnH1>>, id: string) {
  let task: TaskRecord | undefined;
  await b.settle(`task ${id}`, async () => {
    task = await b.store.getTask(id);
    return task?.state !== "running";
  });
  await b.controller.maintenance.idle();
  assert.ok(task);
  return task;
}

describe("host maintenance on a fake cluster", () => {
  test("three domains, one pinned: refused with the reasons; with --allow-restart all leave, the pinned one stops; activate brings it back", async () => {
    const b = await threeOnH1();
    await rejectsWith(
      b.controller.maintenance.enter("h1", { allowRestart: false, actor: "admin" }),
      "CONFLICT",
      new RegExp(
        "host h1 cannot go into maintenance \\(nothing changed\\): " +
          "db cannot go anywhere: no host can run it: .*domain db is pinned to h1.*" +
          "give --allow-restart to shut it down for the maintenance \\(host activate h1 starts it again\\)$",
      ),
    );
    assert.equal((await b.store.getHost(b.h1.id))?.maintenance, null, "a refusal changes nothing");
    assert.deepEqual(await b.whereabouts(), {
      db: "h1/running",
      web1: "h1/running",
      web2: "h1/running",
    });

    const { task, plan } = await b.controller.maintenance.enter("h1", {
      allowRestart: true,
      actor: "admin",
    });
    assert.deepEqual(
      plan.map((s) => `${s.domain} ${s.action}`),
      ["db stop", "web1 move", "web2 move"],
    );
    const done = await finished(b, task.id);
    assert.equal(done.state, "succeeded", done.error?.message);
    assert.match(done.message, /^h1 is in maintenance: web1 -> h[23], web2 -> h[23], db stopped$/);
    const where = await b.whereabouts();
    assert.equal(where["db"], "h1/stopped");
    assert.match(where["web1"] ?? "", /^h[23]\/running$/);
    assert.match(where["web2"] ?? "", /^h[23]\/running$/);
    assert.notEqual(where["web1"], where["web2"], "anti-affinity keeps web1 and web2 apart");
    const result = done.result as {
      moved: Array<{ domain: string; from: string; live: boolean }>;
    };
    assert.deepEqual(
      result.moved.map((m) => `${m.domain} from ${m.from}${m.live ? " live" : ""}`),
      ["web1 from h1 live", "web2 from h1 live"],
    );
    const h1 = await b.store.getHost(b.h1.id);
    const db = await b.controller.domains.get("db");
    assert.deepEqual(h1?.maintenance?.stoppedDomainIds, [db.id], "activate starts db again");

    // Nothing new goes there: not chosen, and refused by name.
    await b.domain("extra", 256);
    await rejectsWith(
      b.controller.lifecycle.start("extra", "admin", { host: "h1" }),
      "CONFLICT",
      /host h1 is in maintenance \(etherplane host activate h1 ends it\)/,
    );
    const placed = await b.controller.lifecycle.start("extra", "admin");
    assert.notEqual(placed.domain.hostId, b.h1.id);

    const kinds = (await b.controller.events.list({ limit: 1000 })).map(
      (e) => `${e.kind} ${e.subject}`,
    );
    for (const line of [
      "host.maintenance h1",
      "host.evacuation_stopped db",
      "host.evacuation_moved web1",
      "host.evacuation_moved web2",
      "host.evacuated h1",
      "domain.placed extra",
    ])
      assert.ok(kinds.includes(line), `event ${line} in ${kinds.join(", ")}`);

    const activation = await b.controller.maintenance.activate("h1", "admin");
    assert.equal(activation.host.maintenance, null);
    const activated = await finished(b, activation.task.id);
    assert.equal(activated.state, "succeeded", activated.error?.message);
    assert.equal(activated.message, "h1 is active; started db");
    await b.settle("db running on h1", async () => (await b.whereabouts())["db"] === "h1/running");
    await rejectsWith(
      b.controller.maintenance.activate("h1", "admin"),
      "CONFLICT",
      /host h1 is not in maintenance/,
    );
  });

  test("a domain with nowhere to go (no memory elsewhere) refuses the maintenance with the reason", async () => {
    const b = await fakeClusterBench([
      { name: "h1", totalMemoryMiB: 8192 },
      { name: "h2", totalMemoryMiB: 1024 },
    ]);
    await b.domain("big", 2048, "h1");
    await b.settle("big running", async () => (await b.whereabouts())["big"] === "h1/running");
    await rejectsWith(
      b.controller.maintenance.enter("h1", { allowRestart: true, actor: "admin" }),
      "CONFLICT",
      /big cannot go anywhere: no host can run it: host h1 goes into maintenance; domain big wants 2048 MiB but host h2 has 1024 MiB free/,
    );
    const h1 = b.computes.get("h1")?.record.id ?? "";
    assert.equal((await b.store.getHost(h1))?.maintenance, null);
  });

  test("an empty host goes into maintenance at once", async () => {
    const b = await fakeClusterBench([{ name: "h1" }, { name: "h2" }]);
    const { task } = await b.controller.maintenance.enter("h2", {
      allowRestart: false,
      actor: "op",
    });
    const done = await (async () => {
      await b.controller.maintenance.idle();
      return b.store.getTask(task.id);
    })();
    assert.equal(done?.state, "succeeded");
    assert.equal(done?.message, "h2 is in maintenance: nothing ran there");
  });
});
