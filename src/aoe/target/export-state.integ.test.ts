/**
 * The real target in the test process on a veth pair between two namespaces, its state in real
 * files: a live config change that serves another file at a masked address (what SIGHUP does)
 * does not carry the mask over and warns naming the address and both backings; the other file
 * keeps its own state across a restart; a change that fails leaves the running export's state
 * on disk, so a restart still finds it.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { after, before, describe, test } from "node:test";
import { createAoeLink, makeBackingFile, startTarget } from "../../../test/lab/aoe-lab.js";
import { discoverUntil, maskToInitiator, type AoeLink } from "../../../test/lab/aoe-lab.js";
import type { LogFields, Logger } from "../../foundation/log.js";
import { macToString } from "../codec/index.js";
import type { AoeInitiator } from "../initiator/aoe-initiator.js";
import type { AoeTarget } from "./aoe-target.js";
import { parseTargetConfig } from "./config.js";

const MiB = 1024 * 1024;
const DEADLINE_MS = 20_000;

interface Line {
  level: string;
  message: string;
  fields: LogFields;
}

/** A logger that keeps its lines for the test to read (and nothing else). */
function capturingLogger(): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const at =
    (level: string) =>
    (message: string, fields: LogFields = {}) =>
      void lines.push({ level, message, fields });
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

describe("AoE target: export state follows its backing (live config changes)", () => {
  let link: AoeLink;
  let diskA: string;
  let diskB: string;
  let stateDir: string;
  let a: AoeInitiator;
  let b: AoeInitiator;
  const targets: AoeTarget[] = [];

  const rawConfig = (path: string, more: Array<Record<string, unknown>> = []) => ({
    stateDir,
    interfaces: ["tgt0", "tgt1"],
    exports: [{ address: "4.2", path }, ...more],
  });
  const config = (path: string, more: Array<Record<string, unknown>> = []) =>
    parseTargetConfig(rawConfig(path, more));
  const start = async (path: string) => {
    const log = capturingLogger();
    const target = await startTarget(link.targetNs, rawConfig(path), { log });
    targets.push(target);
    return { target, log };
  };
  const seen = (initiator: AoeInitiator) => discoverUntil(initiator, 4, 2, DEADLINE_MS);
  const maskToA = () => maskToInitiator(a, 4, 2);
  const warnings = (log: { lines: Line[] }) => log.lines.filter((l) => l.level === "warn");

  before(async () => {
    link = await createAoeLink("est", { links: 2 });
    diskA = makeBackingFile(link.dir, "a.img", MiB);
    diskB = makeBackingFile(link.dir, "b.img", MiB);
    stateDir = `${link.dir}/state`;
    a = link.initiator(["ini0"]);
    b = link.initiator(["ini1"]);
  });

  after(async () => {
    for (const t of targets) await t.stop();
    await link?.close();
  });

  test("serving another file live: the mask is not carried over, the warning names both", async () => {
    const { target, log } = await start(diskA);
    await maskToA();
    assert.deepEqual(target.stats().exports[0]?.macMask, [
      macToString(a.sockets[0]?.mac as Buffer),
    ]);
    assert.deepEqual(await b.discover({ listenMs: 300 }), [], "B is masked out");

    await target.apply(config(diskB));
    const [warning] = warnings(log);
    assert.ok(warning, "a warning was logged");
    assert.equal(warning.fields["address"], "4.2");
    assert.match(String(warning.fields["oldBacking"]), new RegExp(`^${diskA} \\(file, dev`));
    assert.match(String(warning.fields["newBacking"]), new RegExp(`^${diskB} \\(file, dev`));
    assert.match(String(warning.fields["movedTo"]), /export-4\.2\.json\.stale-\d+$/);
    assert.equal(fs.existsSync(String(warning.fields["movedTo"])), true);
    assert.deepEqual(target.stats().exports[0]?.macMask, []);
    await seen(b);

    // b.img's own mask, then a restart on b.img: kept, no warning.
    await maskToA();
    await target.stop();
    const restarted = await start(diskB);
    assert.deepEqual(warnings(restarted.log), []);
    assert.equal(restarted.target.stats().exports[0]?.macMask.length, 1);
    assert.match(
      String(restarted.log.lines.find((l) => l.message === "exporting e4.2")?.fields["macMask"]),
      /^[0-9a-f:]{17}$/,
      "the exporting line names the mask in force",
    );
    await restarted.target.stop();
  });

  test("a live change that fails leaves the running export's state on disk", async () => {
    const { target, log } = await start(diskB); // masked to A, from the previous test
    assert.equal(target.stats().exports[0]?.macMask.length, 1);
    await assert.rejects(
      target.apply(config(diskA, [{ address: "4.3", path: `${link.dir}/missing.img` }])),
      /missing\.img/,
    );
    assert.equal(warnings(log).length, 1, "b.img's file was set aside while preparing diskA");
    assert.equal(target.stats().exports[0]?.path, diskB, "nothing changed");
    const onDisk = JSON.parse(fs.readFileSync(`${stateDir}/export-4.2.json`, "utf8")) as {
      macMask: string[];
      backing: { path: string };
    };
    assert.equal(onDisk.backing.path, diskB);
    assert.equal(onDisk.macMask.length, 1, "the running export's state was written back");
    await target.stop();
    const restarted = await start(diskB);
    assert.deepEqual(warnings(restarted.log), []);
    assert.equal(restarted.target.stats().exports[0]?.macMask.length, 1);
  });
});
