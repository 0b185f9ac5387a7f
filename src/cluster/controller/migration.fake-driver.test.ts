/**
 * Live migration's control flow on a FAKE hypervisor (fake-migration-bench.ts): the real
 * controller, store, broker, reconcilers and relays; the guests and their "state" fake. The real
 * thing under QEMU is src/daemon/migrate-qemu.integ.test.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { webRunningOnA } from "./testing/fake-migration-bench.js";
import { rejectsWith } from "./testing/fake-domain-bench.js";

const guestNames = async (driver: { list(): Promise<Array<{ name: string }>> }) =>
  (await driver.list()).map((g) => g.name);

describe("live migration on a fake hypervisor", () => {
  test("A -> B -> A: the guest runs on one host at a time; its volume is served to both only during the handover", async () => {
    const bench = await webRunningOnA();
    const { a, b, controller } = bench;
    assert.deepEqual(bench.servedMask(1), [a.mac]);
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const { task } = await controller.migrations.migrate("web1", {
        host: to.name,
        live: true,
        actor: "admin",
      });
      const masks = new Set<string>();
      await bench.settle("the migration's task to end", async () => {
        masks.add(JSON.stringify(bench.servedMask(1)));
        // Never two running copies.
        const running = [
          ...(await a.driver.list()).filter((g) => g.state.running),
          ...(await b.driver.list()).filter((g) => g.state.running),
        ];
        assert.ok(running.length <= 1, `two copies run: ${JSON.stringify(running)}`);
        return (await bench.store.getTask(task.id))?.state !== "running";
      });
      const done = await bench.store.getTask(task.id);
      assert.equal(done?.state, "succeeded", JSON.stringify(done));
      assert.match(done?.message ?? "", new RegExp(`web1 moved from ${from.name} to ${to.name}`));
      assert.ok(
        masks.has(JSON.stringify([from.mac, to.mac])),
        `both during: ${[...masks].join(" ")}`,
      );
      assert.deepEqual(bench.servedMask(1), [to.mac], "the destination alone afterwards");
      const record = await bench.domain("web1");
      assert.equal(record.hostId, to.record.id);
      assert.deepEqual(await guestNames(to.driver), ["web1"]);
      assert.deepEqual(await guestNames(from.driver), [], "the source's copy is destroyed");
      assert.ok(!from.attached.has("web1"), "the source's disk bridge is closed");
      assert.ok(to.attached.has("web1"));
      // The destination's agent owns it: a few more passes leave it running, once.
      await bench.passAll();
      await bench.passAll();
      assert.equal((await bench.domain("web1")).observed?.state, "running");
      assert.deepEqual(await guestNames(from.driver), [], "not re-created on the source");
      assert.deepEqual(
        (await bench.store.getVolume("vol-web1"))?.grants.map((g) => g.hostId),
        [to.record.id],
      );
    }
  });

  test("the destination fails during the transfer: the guest runs on at the source, access back to the source alone", async () => {
    const bench = await webRunningOnA();
    const { a, b, controller } = bench;
    b.fakeHost.incomingFailure = "killed during the transfer";
    const { task } = await controller.migrations.migrate("web1", {
      host: "B",
      live: true,
      actor: "admin",
    });
    await bench.settle(
      "the migration's task to end",
      async () => (await bench.store.getTask(task.id))?.state !== "running",
    );
    const failed = await bench.store.getTask(task.id);
    assert.equal(failed?.state, "failed");
    assert.match(
      failed?.message ?? "",
      /web1 stays on A: B: guest web1: killed during the transfer/,
    );
    // The abort is confirmed before the task ends; a few passes let the source resume.
    await bench.settle("web1 running on A again", async () => {
      const guest = (await a.driver.list()).find((g) => g.name === "web1");
      return guest?.state.running === true;
    });
    assert.deepEqual(await guestNames(b.driver), [], "no copy left on B");
    assert.ok(!b.attached.has("web1"), "B's disk is released");
    assert.equal((await bench.domain("web1")).hostId, a.record.id);
    assert.deepEqual(bench.servedMask(1), [a.mac], "the volume is A's alone again");
    assert.deepEqual(
      (await bench.store.getVolume("vol-web1"))?.grants.map((g) => g.hostId),
      [a.record.id],
    );
  });

  test("refused before anything moves: no memory or no bridge on the destination, the same host, a stopped domain", async () => {
    const small = await webRunningOnA({ memoryB: 128 });
    const bridgeless = await webRunningOnA();
    const bNet = await bridgeless.controller.networks.find("xenbr1", bridgeless.b.record.id);
    await bridgeless.controller.networks.delete(bNet.id);
    const same = await webRunningOnA();
    const cases = [
      [small, "B", /wants 256 MiB but host B has \d+ MiB free/],
      [bridgeless, "B", /host B has no network with bridge xenbr1/],
      [same, "A", /already runs on A/],
    ] as const;
    for (const [bench, host, message] of cases) {
      await rejectsWith(
        bench.controller.migrations.migrate("web1", { host, live: true, actor: "admin" }),
        "CONFLICT",
        message,
      );
      assert.equal((await bench.store.listTasks({ state: "running" })).length, 0, "no task");
      assert.deepEqual(bench.servedMask(1), [bench.a.mac], "access unchanged");
      assert.deepEqual(await guestNames(bench.b.driver), []);
    }
    await same.controller.lifecycle.destroy("web1", "admin");
    await same.settle(
      "web1 stopped",
      async () => (await same.domain("web1")).observed?.state === "stopped",
    );
    await rejectsWith(
      same.controller.migrations.migrate("web1", { host: "B", live: true, actor: "admin" }),
      "CONFLICT",
      /web1 is not running, so there is nothing to migrate/,
    );
  });

  test("offline: shut down on A, started on B", async () => {
    const bench = await webRunningOnA();
    const { task } = await bench.controller.migrations.migrate("web1", {
      host: "B",
      live: false,
      actor: "admin",
    });
    await bench.settle("web1 running on B", async () => {
      const d = await bench.domain("web1");
      return d.hostId === bench.b.record.id && d.observed?.state === "running";
    });
    assert.equal((await bench.store.getTask(task.id))?.state, "succeeded");
    assert.deepEqual(await guestNames(bench.a.driver), []);
    assert.deepEqual(await guestNames(bench.b.driver), ["web1"]);
  });
});
