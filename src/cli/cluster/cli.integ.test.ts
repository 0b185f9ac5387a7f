/**
 * The newcomer's path, all through the `etherplane` command: `up` (as a process, in a test
 * namespace), then volume create/list/snapshot/clone/export/delete from the CLI, read back over
 * AoE with `etherplane aoe read`, with exit codes scripts can rely on.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { pattern } from "../../../test/lab/aoe-lab.js";
import { runCli } from "../../../test/lab/cli-process.js";
import { startUpBox, type UpBox } from "../../../test/lab/up-box.js";

const MiB = 1024 * 1024;

describe("etherplane up + volume commands, as a user types them", () => {
  let box: UpBox;
  const cli = (args: string[], input?: Buffer) => box.cli(args, input ? { input } : {});

  before(async () => {
    box = await startUpBox({ tag: "cliup", listen: "127.0.0.1:7391" });
  });

  after(async () => {
    await box?.close();
  });

  test("create, list, snapshot, clone: tables, closed until allowed, and the volume readable over AoE", async () => {
    const created = await cli(["volume", "create", "web", "--size", "16M"]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^created web \(e1\.0\)$/m);
    const made = await cli(["volume", "make", "db", "--size", "8M"]);
    assert.equal(made.code, 0, made.stderr);
    const closed = await cli(["volume", "list"]);
    assert.match(closed.stdout, /^web\s+16M\s+\S+\s+default\s+box1\s+e1\.0\s+ready\s+nobody$/m);
    const noWho = await cli(["volume", "allow", "web"]);
    assert.equal(noWho.code, 2, "allow names MACs, hosts or --everyone");
    assert.match(noWho.stderr, /--everyone/);
    const opened = await cli(["volume", "allow", "web", "--everyone"]);
    assert.equal(opened.code, 0, opened.stderr);
    // Write through AoE from the other namespace, then snapshot and clone.
    const written = await runCli(["aoe", "write", "e1.0", "--iface", "ini0"], {
      ns: box.link.initiatorNs,
      input: pattern(MiB, 3),
    });
    assert.equal(written.code, 0, written.stderr);
    assert.equal((await cli(["volume", "snapshot", "web", "web-snap"])).code, 0);
    const cloned = await cli(["volume", "clone", "web", "web-copy"]);
    assert.equal(cloned.code, 0, cloned.stderr);
    const list = await cli(["volume", "list"]);
    assert.equal(list.code, 0);
    const lines = list.stdout.trim().split("\n");
    assert.match(lines[0] ?? "", /^NAME\s+SIZE\s+ALLOC\s+POOL\s+HOST\s+DEVICE\s+STATE\s+ACCESS$/);
    assert.ok(
      lines.some((l) => /^web\s+16M\s+\S+\s+default\s+box1\s+e1\.0\s+ready\s+everyone$/.test(l)),
      list.stdout,
    );
    assert.ok(
      lines.some((l) => /^web-snap \(snapshot\)\s+16M .* ready\s+not exported$/.test(l)),
      list.stdout,
    );
    const copy = /^web-copy\s+16M\s+\S+\s+default\s+box1\s+(e\d+\.\d+)\s+ready/m.exec(list.stdout);
    assert.ok(copy, list.stdout);
    const read = await runCli(
      ["aoe", "read", copy[1] as string, "--iface", "ini0", "--length", "1M"],
      { ns: box.link.initiatorNs },
    );
    assert.equal(read.code, 0, read.stderr);
    assert.ok(read.stdoutBytes.equals(pattern(MiB, 3)), "the clone holds what was written to web");
    const json = JSON.parse((await cli(["volume", "list", "--json"])).stdout) as {
      volumes: Array<{ name: string }>;
    };
    assert.deepEqual(json.volumes.map((v) => v.name).sort(), ["db", "web", "web-copy", "web-snap"]);
  });

  test("exit codes: not found 3, conflict 8, bad usage 2, not logged in 9", async () => {
    const missing = await cli(["volume", "show", "nope"]);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /no volume "nope"/);
    const taken = await cli(["volume", "create", "web", "--size", "1M"]);
    assert.equal(taken.code, 8);
    assert.match(taken.stderr, /volume name "web" is taken/);
    const exported = await cli(["volume", "delete", "web"]);
    assert.equal(exported.code, 8);
    assert.match(exported.stderr, /unexport it first, or delete with --force/);
    const badSize = await cli(["volume", "create", "x", "--size", "lots"]);
    assert.equal(badSize.code, 2);
    const anonymous = await runCli(["volume", "list"], {
      ns: box.link.targetNs,
      env: { ETHERPLANE_CONFIG: path.join(box.link.dir, "none.json") },
    });
    assert.equal(anonymous.code, 9);
    assert.match(anonymous.stderr, /etherplane login/);
  });

  test("unexport then delete; --no-wait returns at once with the task", async () => {
    assert.equal((await cli(["volume", "unexport", "web-copy"])).code, 0);
    const deleted = await cli(["volume", "delete", "web-copy", "--no-wait"]);
    assert.equal(deleted.code, 0, deleted.stderr);
    const task = /task (task-[0-9a-f]+) started/.exec(deleted.stdout);
    assert.ok(task, deleted.stdout);
    for (let i = 0; i < 100; i++) {
      const shown = await cli(["task", "show", task[1] as string]);
      if (/succeeded/.test(shown.stdout)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail("the delete task did not succeed");
  });
});
