/**
 * A controller killed -9 in the middle of a live migration and started again on the same store
 * (migration-recovery.ts), on the FAKE bench of migration.fake-driver.test.ts: the real
 * controller, SQLite file, broker, reconcilers and relays; the guests fake. Whatever the moment,
 * the task ends with the reason and exactly one copy runs, never two at any pass.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { FakeHypervisorDriver } from "../../hypervisor/fake/fake-driver.js";
import type { Controller } from "./controller.js";
import { webRunningOnA } from "./testing/fake-migration-bench.js";

const limits = { migrationRecovery: { reportMs: 10_000, cleanupMs: 10_000, pollMs: 5 } };

async function migratingToB() {
  const bench = await webRunningOnA({ onDisk: true, limits });
  const { task } = await bench.controller.migrations.migrate("web1", {
    host: "B",
    live: true,
    actor: "admin",
  });
  return { bench, task };
}

const running = async (driver: FakeHypervisorDriver) =>
  (await driver.list()).filter((g) => g.state.running).map((g) => g.name);
const names = async (driver: FakeHypervisorDriver) => (await driver.list()).map((g) => g.name);

/** Passes (never two running copies at any of them) until the task ends. */
async function recoverUntilEnded(
  bench: Awaited<ReturnType<typeof migratingToB>>["bench"],
  controller: Controller,
  taskId: string,
  /** Passes of A alone first (B's agent silent): A must not resume a copy it sent whole. */
  silentBPasses = 0,
) {
  const recovery = controller.migrationRecovery.recover();
  bench.b.down = true;
  for (let i = 0; i < silentBPasses; i++) {
    await bench.a.pass();
    const copies = [...(await running(bench.a.driver)), ...(await running(bench.b.driver))];
    assert.deepEqual(copies, ["web1"], "only B's copy runs while B is silent");
  }
  bench.b.down = false;
  await bench.settle("the task to end after the restart", async () => {
    const copies = [...(await running(bench.a.driver)), ...(await running(bench.b.driver))];
    assert.ok(copies.length <= 1, `two copies run: ${copies.join(" ")}`);
    return (await bench.store.getTask(taskId))?.state !== "running";
  });
  await recovery;
  return bench.store.getTask(taskId);
}

describe("a controller restarted during a live migration (fake hypervisor)", () => {
  test("during the transfer: the task fails saying so, the guest runs on at the source, the destination's copy and access are gone", async () => {
    const { bench, task } = await migratingToB();
    // B waits for the guest; the source was asked to send but has not yet.
    await bench.settle("B ready", () =>
      Promise.resolve(
        bench.b.relay.observed().some((s) => s.role === "receive" && s.state === "ready"),
      ),
    );
    const controller = await bench.restartController();
    assert.equal((await bench.store.getTask(task.id))?.state, "running", "left running");
    const ended = await recoverUntilEnded(bench, controller, task.id);
    assert.equal(ended?.state, "failed", JSON.stringify(ended));
    assert.match(
      ended?.message ?? "",
      /^web1 stays on A: the controller restarted during the migration to B \(A's copy was running, B's (paused|stopped|gone)\); B's copy is gone$/,
    );
    await bench.settle("B's disk released", () => Promise.resolve(!bench.b.attached.has("web1")));
    assert.deepEqual(await running(bench.a.driver), ["web1"]);
    assert.deepEqual(await names(bench.b.driver), [], "B's waiting copy is discarded");
    assert.equal((await bench.domain("web1")).hostId, bench.a.record.id);
    assert.deepEqual(bench.servedMask(1), [bench.a.mac], "the volume is A's alone again");
    // A migration can start again: nothing is left busy.
    const again = await controller.migrations.migrate("web1", {
      host: "B",
      live: true,
      actor: "admin",
    });
    await bench.settle(
      "the second migration",
      async () => (await bench.store.getTask(again.task.id))?.state !== "running",
    );
    assert.equal((await bench.store.getTask(again.task.id))?.state, "succeeded");
    assert.deepEqual(await running(bench.b.driver), ["web1"]);
    assert.deepEqual(await names(bench.a.driver), []);
  });

  test("after the destination ran it but before the switch-over was recorded (the undefined outcome): the copy that runs is kept, the source's stopped one destroyed", async () => {
    const { bench, task } = await migratingToB();
    // Passes until B's relay runs the guest, then the controller dies before hearing it.
    for (let i = 0; i < 400; i++) {
      await bench.a.pass();
      const received = bench.b.relay
        .observed()
        .some((s) => s.role === "receive" && s.state === "running");
      if (received) break;
      await bench.b.pass();
      assert.equal(
        (await bench.store.getTask(task.id))?.state,
        "running",
        "the test must catch the migration before its end",
      );
    }
    await bench.settle("A to have sent it all", () =>
      Promise.resolve(bench.a.relay.observed().some((s) => s.state === "sent")),
    );
    const controller = await bench.restartController();
    assert.equal((await bench.domain("web1")).hostId, bench.a.record.id, "not switched yet");
    const ended = await recoverUntilEnded(bench, controller, task.id, 5);
    assert.equal(ended?.state, "succeeded", JSON.stringify(ended));
    assert.match(
      ended?.message ?? "",
      /^web1 runs on B: the controller restarted during the migration from A \(A's copy was paused, B's running\); A's copy is gone$/,
    );
    assert.equal((await bench.domain("web1")).hostId, bench.b.record.id);
    assert.deepEqual(await running(bench.b.driver), ["web1"]);
    assert.deepEqual(await names(bench.a.driver), [], "the source's stopped copy is destroyed");
    await bench.settle("the volume B's alone", () =>
      Promise.resolve(JSON.stringify(bench.servedMask(1)) === JSON.stringify([bench.b.mac])),
    );
    // B's agent owns it now: more passes leave one copy.
    await bench.passAll();
    await bench.passAll();
    assert.deepEqual(await running(bench.b.driver), ["web1"]);
    assert.deepEqual(await names(bench.a.driver), []);
    assert.equal((await bench.domain("web1")).observed?.state, "running");
  });
});
