/**
 * Issue 16 as a user met it: `aoe serve` (a child process in a test namespace, veth to an
 * initiator host) with a MAC mask set over the wire, then a different file served at the same
 * address. The new file does not inherit the mask (the old state is moved aside, with a warning
 * naming both), the same file keeps it across a restart, restrictions are logged at start and on
 * SIGHUP and shown by `aoe stats`, `--reset-state` clears them, and `aoe discover` finding
 * nothing says what to check.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { after, before, describe, test } from "node:test";
import { createAoeLink, discoverUntil, makeBackingFile } from "../../../test/lab/aoe-lab.js";
import { maskToInitiator, type AoeLink } from "../../../test/lab/aoe-lab.js";
import { CliDaemon, runCli } from "../../../test/lab/cli-process.js";
import { macToString } from "../../aoe/codec/index.js";
import type { AoeInitiator } from "../../aoe/initiator/aoe-initiator.js";

const MiB = 1024 * 1024;
const DEADLINE_MS = 20_000;

describe("aoe serve: persisted access state belongs to its backing", () => {
  let link: AoeLink;
  let diskA: string;
  let diskB: string;
  let stateDir: string;
  let a: AoeInitiator;
  let b: AoeInitiator;
  let macA: string;
  const daemons: CliDaemon[] = [];

  const serve = async (disk: string, extra: string[] = []) => {
    // One target at a time (the state directory's lock): a test that failed midway leaves its
    // daemon running, and the next test would fail on the lock instead of on its own claim.
    for (const d of daemons) await d.stop();
    const daemon = new CliDaemon(
      ["aoe", "serve", "--iface", "tgt0", "--iface", "tgt1", "--export", `1.0=${disk}`]
        .concat(["--state-dir", stateDir])
        .concat(extra),
      { ns: link.targetNs },
    );
    daemons.push(daemon);
    await daemon.waitFor(/serving 1 export/, DEADLINE_MS);
    return daemon;
  };
  /** Discovers until e1.0 answers (generous deadline: the machine may be loaded). */
  const seen = (initiator: AoeInitiator) => discoverUntil(initiator, 1, 0, DEADLINE_MS);
  const maskToA = () => maskToInitiator(a, 1, 0);

  before(async () => {
    link = await createAoeLink("sst", { links: 2 });
    diskA = makeBackingFile(link.dir, "a.img", 2 * MiB);
    diskB = makeBackingFile(link.dir, "b.img", 2 * MiB);
    stateDir = `${link.dir}/state`;
    a = link.initiator(["ini0"]);
    b = link.initiator(["ini1"]);
    macA = macToString(a.sockets[0]?.mac as Buffer);
  });

  after(async () => {
    for (const d of daemons) await d.stop();
    await link?.close();
  });

  test("the same file keeps its mask across a restart; the start log and aoe stats show it", async () => {
    let daemon = await serve(diskA);
    assert.match(daemon.stderr, /access: no export is restricted/);
    await maskToA();
    assert.deepEqual(await b.discover({ listenMs: 300 }), [], "B is masked out");
    assert.equal(await daemon.stop(), 0);

    daemon = await serve(diskA);
    const line = new RegExp(
      `INFO aoe:target: access: e1\\.0: MAC mask list \\(1 entry: ${macA}\\): no other initiator sees it .*macMaskLength=1 macMask="${macA}"`,
    );
    assert.match(daemon.stderr, line);
    assert.doesNotMatch(daemon.stderr, /WARN/);
    assert.deepEqual(await b.discover({ listenMs: 300 }), [], "still masked after the restart");
    await seen(a);

    daemon.signal("SIGHUP");
    await daemon.waitFor(/SIGHUP: access: e1\.0: MAC mask list \(1 entry/, DEADLINE_MS);
    assert.equal(await daemon.stop(), 0);
    const stats = await runCli(["aoe", "stats", "--state-dir", stateDir]);
    assert.equal(stats.code, 0, stats.stderr);
    assert.match(
      stats.stdout,
      new RegExp(`access restrictions:\\n  e1\\.0: MAC mask list \\(1 entry: ${macA}\\)`),
    );
  });

  test("another file at the same address does not inherit the mask: moved aside, with a warning", async () => {
    const daemon = await serve(diskB);
    assert.match(
      daemon.stderr,
      new RegExp(
        `WARN aoe:target: e1\\.0: persisted state \\(MAC mask, reservation, config string\\) was set for ${diskA} \\(file, dev \\d+, inode \\d+\\), not for ${diskB} \\(file, dev \\d+, inode \\d+\\) served now: not applied, moved to ${stateDir}/export-1\\.0\\.json\\.stale-\\d+`,
      ),
    );
    assert.match(daemon.stderr, /access: no export is restricted/);
    await seen(b);
    const aside = fs.readdirSync(stateDir).filter((n) => n.startsWith("export-1.0.json.stale-"));
    assert.equal(aside.length, 1);
    const kept = JSON.parse(fs.readFileSync(`${stateDir}/${aside[0]}`, "utf8")) as {
      macMask: string[];
      backing: { path: string };
    };
    assert.deepEqual(kept.macMask, [macA]);
    assert.equal(kept.backing.path, diskA);
  });

  test("aoe discover that finds nothing says what to check", async () => {
    await maskToA(); // b.img masked to A now: B hears nothing
    const result = await runCli(["aoe", "discover", "--iface", "ini1", "--timeout", "300"], {
      ns: link.initiatorNs,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /no AoE target answered on ini1 within 300 ms/);
    assert.match(
      result.stderr,
      /etherplane aoe stats` on the target host: an export with a MAC mask list/,
    );
    assert.match(result.stderr, /MTU/);
    const found = await runCli(["aoe", "discover", "--iface", "ini0", "--timeout", "1000"], {
      ns: link.initiatorNs,
    });
    assert.match(found.stdout, /e1\.0/);
    assert.doesNotMatch(found.stderr, /no AoE target answered/);
  });

  test("--reset-state clears the persisted state explicitly, logged; a bad address exits 2", async () => {
    const bad = await runCli(
      [
        "aoe",
        "serve",
        "--iface",
        "tgt0",
        "--export",
        `1.0=${diskB}`,
        "--state-dir",
        stateDir,
      ].concat(["--reset-state", "1.x"]),
      { ns: link.targetNs },
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--reset-state: "1\.x" is not an AoE address/);

    await (daemons.at(-1) as CliDaemon).stop();
    const daemon = await serve(diskB, ["--reset-state", "all"]);
    assert.match(
      daemon.stderr,
      new RegExp(
        `WARN aoe:target: --reset-state: cleared the persisted state of e1\\.0, kept at ${stateDir}/export-1\\.0\\.json\\.reset-\\d+ .*macMask="${macA}"`,
      ),
    );
    assert.match(daemon.stderr, /access: no export is restricted/);
    await seen(b);
    assert.equal(await daemon.stop(), 0);

    const again = await serve(diskB, ["--reset-state", "1.0"]);
    assert.match(again.stderr, /--reset-state: e1\.0 has no persisted state/);
  });
});
