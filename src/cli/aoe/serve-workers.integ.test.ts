/**
 * `etherplane aoe serve --workers 2` as a user runs it: both workers serve (each its own export,
 * counted), the kernel filter hands each worker only its exports' frames, discovery finds every
 * export, concurrent writes of one initiator to the same sectors end with the last one written,
 * and SIGTERM stops every worker.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { after, before, describe, test } from "node:test";
import { createAoeLink, makeBackingFile, type AoeLink } from "../../../test/lab/aoe-lab.js";
import { CliDaemon, runCli } from "../../../test/lab/cli-process.js";
import { SECTOR_BYTES } from "../../aoe/codec/index.js";
import type { WorkersStats } from "./serve-workers.js";

const MiB = 1024 * 1024;
const WAIT_MS = 120_000;

describe("etherplane aoe serve --workers", () => {
  let link: AoeLink;
  let stateDir: string;
  let daemon: CliDaemon | undefined;

  before(async () => {
    link = await createAoeLink("wrk");
    stateDir = `${link.dir}/state`;
  });

  after(async () => {
    await daemon?.stop();
    await link?.close();
  });

  const readStats = (): WorkersStats | undefined => {
    try {
      return JSON.parse(fs.readFileSync(`${stateDir}/stats.json`, "utf8")) as WorkersStats;
    } catch {
      return undefined; // not written yet, or being replaced
    }
  };

  test("a bad worker count is refused with the bound", async () => {
    const bad = await runCli(
      ["aoe", "serve", "--iface", "tgt0", "--export", `1.0=${link.dir}/x`, "--workers", "0"],
      { ns: link.targetNs },
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--workers 0: give a count of threads from 1 to 64/);
  });

  test("a worker that cannot start stops the target, with the exit code of one target", async () => {
    const disk = makeBackingFile(link.dir, "ok.img", MiB);
    const args = (extra: string[]) => [
      "aoe",
      "serve",
      "--iface",
      "tgt0",
      "--export",
      `1.0=${disk}`,
      "--export",
      `1.1=${link.dir}/missing/x.img`,
      "--state-dir",
      `${link.dir}/failed-state`,
      ...extra,
    ];
    const single = await runCli(args([]), { ns: link.targetNs });
    const sharded = await runCli(args(["--workers", "2"]), { ns: link.targetNs });
    assert.notEqual(single.code, 0);
    assert.equal(sharded.code, single.code, sharded.stderr);
    assert.match(sharded.stderr, /worker 1: cannot open .*missing\/x\.img/);
    assert.equal(fs.existsSync(`${link.dir}/failed-state/target.pid`), false);
  });

  test("two workers each serve their export; writes to the same sectors stay in order", async () => {
    const disk0 = makeBackingFile(link.dir, "d0.img", 4 * MiB);
    const disk1 = makeBackingFile(link.dir, "d1.img", 4 * MiB);
    // 1.0 is key 256 (worker 0), 1.1 is key 257 (worker 1).
    daemon = new CliDaemon(
      [
        "aoe",
        "serve",
        "--iface",
        "tgt0",
        "--export",
        `1.0=${disk0}`,
        "--export",
        `1.1=${disk1}`,
        "--state-dir",
        stateDir,
        "--workers",
        "2",
      ],
      { ns: link.targetNs },
    );
    await daemon.waitFor(/serving 2 export\(s\), buffer count 64, 2 workers/, WAIT_MS);

    const initiator = link.initiator();
    // Discovery is broadcast: each worker answers for its own export.
    const found = await initiator.discover({ listenMs: 1000 });
    assert.deepEqual(found.map((t) => `${t.shelf}.${t.slot}`).sort(), ["1.0", "1.1"]);

    const devices = [await initiator.openDevice(1, 0), await initiator.openDevice(1, 1)];
    const SECTORS = 8;
    const WRITES = 32;
    for (const [d, device] of devices.entries()) {
      // Issued together: the last one issued must be what stays on disk.
      const writes = [];
      for (let w = 0; w < WRITES; w++) {
        writes.push(
          device.writeSectors(Buffer.alloc(SECTORS * SECTOR_BYTES, (d * WRITES + w) & 0xff), 16),
        );
      }
      await Promise.all(writes);
      const back = Buffer.alloc(SECTORS * SECTOR_BYTES);
      await device.readSectors(back, 16);
      assert.ok(
        back.equals(Buffer.alloc(back.length, (d * WRITES + WRITES - 1) & 0xff)),
        `e1.${d}: read back what was written last`,
      );
    }
    const onDisk = fs.readFileSync(disk1).subarray(16 * SECTOR_BYTES, 24 * SECTOR_BYTES);
    assert.ok(onDisk.equals(Buffer.alloc(onDisk.length, (WRITES + WRITES - 1) & 0xff)));

    // stats.json (every 2 s): each worker served frames, for its own export only.
    const deadline = Date.now() + WAIT_MS;
    let stats = readStats();
    while (
      !(stats && stats.exports.every((e) => e.counters.writeRequests >= WRITES)) &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 200));
      stats = readStats();
    }
    assert.ok(stats, "stats.json written");
    assert.deepEqual(
      stats.workers.map((w) => [w.index, w.exports]),
      [
        [0, ["1.0"]],
        [1, ["1.1"]],
      ],
    );
    for (const worker of stats.workers)
      assert.ok(worker.framesIn > WRITES, `worker ${worker.index}`);
    for (const e of stats.exports) assert.ok(e.counters.writeRequests >= WRITES, e.address);
    // The kernel's filter kept each export's frames away from the other worker.
    assert.equal(stats.drops["not-addressed"], undefined);

    initiator.close();
    daemon.signal("SIGTERM");
    const code = await daemon.wait();
    assert.equal(code, 0, `exit ${code} (${String(daemon.child.signalCode)}): ${daemon.stderr}`);
    assert.match(daemon.stderr, /stopped/);
    assert.equal(fs.existsSync(`${stateDir}/target.pid`), false);
  });
});
