/**
 * Live migration failures under QEMU/TCG (several minutes), on the lab of migrate-qemu.integ.test.ts
 * (test/lab/migration-lab.ts). The agents cap the transfer at 1 MiB/s (`--migration-mibps 1`) and
 * the guest fills 24 MiB of RAM, so a transfer lasts long enough to kill something in its middle;
 * the middle is seen in the task's progress ("N MiB sent"), never guessed with a sleep. The
 * controller's leases are long (dead after 120 s) so that HA leaves alone a host whose agent is
 * restarted at once: what is tested is the migration's own outcome.
 *  1. The destination's QEMU killed with -9 during the transfer: the task fails saying the guest
 *     stays on the source and why, it runs on there (same boot, the counter goes on), the
 *     destination has no QEMU left and its SAN interface no longer reaches the volume, the
 *     source's still does.
 *  2. The source's agent killed with -9 during the transfer, then restarted: the task fails, and
 *     exactly one copy of the guest runs (both hosts sampled), on the source, the same boot.
 *  3. The controller killed with -9 during the transfer, then restarted on the same state: the
 *     task ends (failed, saying the controller restarted) and one copy runs, on the source.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { TaskRecord } from "../cluster/model.js";
import { ClusterLab } from "../../test/lab/cluster-lab.js";
import { COUNTER_SCRIPT, migrationLab } from "../../test/lab/migration-lab.js";

const AGENT_ARGS = ["--migration-mibps", "1"];
const CONTROLLER_ARGS = [
  ...["--lease-renew-ms", "2000", "--lease-suspect-ms", "60000"],
  ...["--lease-dead-ms", "120000"],
];
const MIGRATION_END_MS_MAX = 300_000;
/** How many times both hosts are sampled for a second copy after a failure. */
const SAMPLES = 10;
/** Non-zero RAM to send (QEMU sends zero pages as a few bytes): ~24 s at 1 MiB/s. */
const FILL_SCRIPT = `
mkdir -p /mnt/fill && mount -t tmpfs -o size=32m tmpfs /mnt/fill && head -c 25165824 /dev/urandom > /mnt/fill/ram
echo "EP-FILLED $?"
`;

test("live migration failures under QEMU/TCG: the destination's QEMU, the source's agent or the controller killed -9 mid-transfer leaves one copy, on the source (several minutes)", async (t) => {
  const m = await migrationLab({
    tag: "migf",
    name: "migf1",
    memoryMiB: 160,
    initScript: FILL_SCRIPT + COUNTER_SCRIPT,
    agentArgs: AGENT_ARGS,
    controllerArgs: CONTROLLER_ARGS,
  });
  const { lab, hostA, hostB } = m;
  t.after(() => lab.close());
  const started = await m.cli(["start", "migf1", "--host", "cmpa"]);
  assert.equal(started.code, 0, `${started.stderr}\n${lab.logs()}`);
  let [count, bootId] = await m.countOnConsole(0);
  assert.equal(await m.sees(hostA), true, "A reaches its guest's volume");
  assert.equal(await m.sees(hostB), false, "B does not, before any migration");

  /** Starts a migration to B; resolves with its task once it reports bytes sent. */
  const migrateUntilMidTransfer = async (): Promise<TaskRecord> => {
    const reply = await lab.call<{ task: TaskRecord }>("POST", "/api/v1/domains/migf1/migrate", {
      host: "cmpb",
    });
    assert.equal(reply.status, 202, JSON.stringify(reply.body));
    const id = reply.body.task.id;
    await lab.waitFor("the transfer under way", 180_000, async () => {
      const task = await m.task(id);
      assert.equal(task.state, "running", `ended before the transfer: ${task.message}`);
      return /\d+ MiB sent, [1-9]\d* MiB to go/.test(task.message) ? null : task.message;
    });
    return m.task(id);
  };
  const ended = async (id: string): Promise<TaskRecord> => {
    let task: TaskRecord | undefined;
    await lab.waitFor("the migration's end", MIGRATION_END_MS_MAX, async () => {
      task = await m.task(id);
      return task.state === "running" ? task.message : null;
    });
    assert.ok(task);
    return task;
  };
  const runsOnA = async () => {
    assert.equal(await m.hostName((await m.domain()).hostId), "cmpa");
    const [after, afterBoot] = await m.countOnConsole(count);
    assert.equal(afterBoot, bootId, "the same boot: it was not restarted");
    [count, bootId] = [after, afterBoot];
    // B's waiting copy is discarded once B's agent acts on the abort: waited for, then sampled.
    await lab.waitFor("B to drop its copy", 120_000, () =>
      m.qemuPid(hostB) === undefined ? null : "B's QEMU still runs",
    );
    for (let i = 0; i < SAMPLES; i++) {
      assert.ok(m.qemuPid(hostA), `A's QEMU runs (sample ${i})`);
      assert.equal(m.qemuPid(hostB), undefined, `B has no copy (sample ${i})`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await lab.waitFor("B to lose the volume", 120_000, async () =>
      (await m.sees(hostB)) ? "B still reaches it" : null,
    );
    assert.equal(await m.sees(hostA), true, "A reaches the volume");
  };

  await t.test("the destination's QEMU killed -9 during the transfer", async () => {
    const task = await migrateUntilMidTransfer();
    const pid = m.qemuPid(hostB);
    assert.ok(pid, `B's waiting QEMU (task: ${task.message})`);
    process.kill(pid, "SIGKILL");
    const end = await ended(task.id);
    assert.equal(end.state, "failed", end.message);
    // Whichever side reports first, the reason names the destination's failure or the broken
    // stream, and says where the guest is.
    assert.match(end.message, /^migf1 stays on cmpa: cmpb: .*(QEMU exited|incoming migration)/);
    await runsOnA();
  });

  await t.test("the source's agent killed -9 during the transfer, then restarted", async () => {
    const task = await migrateUntilMidTransfer();
    await ClusterLab.kill(hostA.agent);
    await lab.startAgent(hostA, AGENT_ARGS);
    const end = await ended(task.id);
    assert.equal(end.state, "failed", end.message);
    assert.match(end.message, /^migf1 stays on cmpa: /);
    await runsOnA();
  });

  await t.test("the controller killed -9 during the transfer, then restarted", async () => {
    const task = await migrateUntilMidTransfer();
    await ClusterLab.kill(lab.controller);
    await lab.startController(CONTROLLER_ARGS);
    const end = await ended(task.id);
    assert.equal(end.state, "failed", end.message);
    assert.match(
      end.message,
      /^migf1 stays on cmpa: the controller restarted during the migration/,
    );
    await runsOnA();
  });
});
