/**
 * Live migration under QEMU/TCG (a few minutes): a controller, a storage host and TWO compute
 * hosts running the qemu driver, each an `etherplane` process in its own namespace (the lab of
 * test/lab/migration-lab.ts). A guest booted from an AoE volume writes an increasing counter to a
 * file on that volume and to its console every 100 ms; it is live-migrated A -> B -> A with `etherplane migrate`. After each
 * move: it runs on the destination with the same boot id and a larger counter (a new console
 * session shows it), the source's copy is gone and the source's SAN interface gets no answer from
 * the volume while the destination's does. At the end the counter file holds 1..N once each and
 * the filesystem is clean.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { test } from "node:test";
import type { TaskRecord } from "../cluster/model.js";
import { guestRunDir } from "../../test/lab/host-processes.js";
import { COUNTER_SCRIPT, migrationLab } from "../../test/lab/migration-lab.js";
import { run } from "../../test/lab/netns.js";

test("live migration under QEMU/TCG: A -> B -> A keeps the guest running, its disk and console follow, the source loses the volume (a few minutes)", async (t) => {
  const m = await migrationLab({
    tag: "mig",
    name: "mig1",
    memoryMiB: 160,
    initScript: COUNTER_SCRIPT,
  });
  const { lab, hostA, hostB, cli, domain, countOnConsole, sees } = m;
  t.after(() => lab.close());
  const started = await cli(["start", "mig1", "--host", "cmpa"]);
  assert.equal(started.code, 0, `${started.stderr}\n${lab.logs()}`);

  let [count, bootId] = await countOnConsole(0);
  assert.equal(await sees(hostA), true, "A reaches its guest's volume");
  assert.equal(await sees(hostB), false, "B does not, before any migration");

  for (const [from, to] of [
    [hostA, hostB],
    [hostB, hostA],
  ] as const) {
    const moved = await cli(["migrate", "mig1", to.name]);
    assert.equal(moved.code, 0, `${moved.stdout}\n${moved.stderr}\n${lab.logs()}`);
    assert.match(
      moved.stdout + moved.stderr,
      new RegExp(`mig1 moved from ${from.name} to ${to.name}`),
    );
    assert.equal(await m.hostName((await domain()).hostId), to.name);
    // It runs on: same boot, a larger counter, on a console that now goes to the destination.
    const [after, afterBoot] = await countOnConsole(count);
    assert.equal(afterBoot, bootId, "the same boot: it was not restarted");
    assert.ok(after > count, `the counter went on: ${count} -> ${after}`);
    [count, bootId] = [after, afterBoot];
    // The source's copy is gone; only the destination reaches the volume.
    const runDir = guestRunDir(from, "mig1");
    assert.equal(fs.existsSync(runDir), false, `${runDir} is gone with the source's QEMU`);
    // The same path on the destination exists: the check above looks where QEMU's files are.
    const there = guestRunDir(to, "mig1");
    assert.equal(fs.existsSync(there), true, `${there} holds the destination's QEMU`);
    assert.equal(await sees(from), false, `${from.name} no longer reaches the volume`);
    assert.equal(await sees(to), true, `${to.name} reaches the volume`);
    const tasks = await lab.call<{ tasks: TaskRecord[] }>("GET", "/api/v1/tasks?limit=5");
    const report = tasks.body.tasks.find(
      (t) => t.kind === "domain.migrate" && t.state === "succeeded",
    );
    assert.ok(report, JSON.stringify(tasks.body));
  }

  // Stop it; the counter file holds 1..N, each once, and the filesystem is clean.
  const shutdown = await cli(["shutdown", "mig1", "--timeout", "60"]);
  assert.equal(shutdown.code, 0, `${shutdown.stderr}\n${lab.logs()}`);
  const counter = await run("debugfs", ["-R", "cat /counter", m.volumeFile]);
  const values = counter.stdout.trim().split("\n").map(Number);
  assert.ok(values.length >= count - 20, `${values.length} values on disk, ${count} seen`);
  values.forEach((value, index) => assert.equal(value, index + 1, `line ${index + 1}`));
  const fsck = await run("e2fsck", ["-fn", m.volumeFile]);
  assert.doesNotMatch(fsck.stdout, /UNEXPECTED INCONSISTENCY|Fix\?/);
});
