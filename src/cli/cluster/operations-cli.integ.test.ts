/**
 * Placement, settings, events and maintenance through the `etherplane` command, against `up`
 * in a test namespace (no guest boots here: the fake cluster test moves guests,
 * src/cluster/controller/maintenance.fake-driver.test.ts).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { CliDaemon } from "../../../test/lab/cli-process.js";
import { startUpBox, type UpBox } from "../../../test/lab/up-box.js";
import type { EventRecord } from "../../cluster/model.js";

const webFile = `name = "web"\nmemory = 128\ndisk = [ 'phy:/dev/etherd/e1.0,xvda,w' ]\n`;

async function until(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`${what} did not happen`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("place, settings, domain set, events and maintenance from the CLI", () => {
  let box: UpBox;
  const cli = (args: string[], input?: Buffer) => box.cli(args, input ? { input } : {});

  before(async () => {
    box = await startUpBox({ tag: "opscli", listen: "127.0.0.1:7393" });
    assert.equal((await cli(["volume", "create", "web", "--size", "8M"])).code, 0);
    const file = path.join(box.link.dir, "web.cfg");
    fs.writeFileSync(file, webFile);
    const imported = await cli(["domain", "import", file]);
    assert.equal(imported.code, 0, imported.stderr);
  });

  after(async () => {
    await box?.close();
  });

  test("place explains each host; settings are bounded; domain set pins; events show it all", async () => {
    const follower = new CliDaemon(["events", "--follow"], { ns: box.link.targetNs, env: box.env });
    try {
      const place = await cli(["place", "web"]);
      assert.equal(place.code, 0, place.stderr);
      assert.match(place.stdout, /^\s+HOST\s+FITS\s+SCORE\s+WHY$/m);
      // up's host serves storage only here: placement says so, host by host.
      assert.match(place.stdout, /^ {2}box1\s+no\s+-\s+host box1 has no compute role$/m);
      assert.match(place.stdout, /^web: no host can run it: host box1 has no compute role$/m);

      const low = await cli(["settings", "set", "cpu_overcommit", "0.1"]);
      assert.equal(low.code, 2, low.stderr);
      assert.match(
        low.stderr,
        /cpu_overcommit: 0\.1 is out of range; give a number from 0\.25 to 64/,
      );
      const set = await cli(["settings", "set", "cpu_overcommit", "2"]);
      assert.equal(set.code, 0, set.stderr);
      const shown = await cli(["settings"]);
      assert.match(shown.stdout, /^cpu_overcommit\s+2\s+4\s+0\.25-64\s/m);
      assert.match(shown.stdout, /^memory_overcommit\s+1\s+1\s/m);

      const storageOnly = await cli([
        "domain",
        "set",
        "web",
        "--pin",
        "box1",
        "--anti-affinity",
        "w",
      ]);
      assert.equal(storageOnly.code, 2, storageOnly.stderr);
      assert.match(storageOnly.stderr, /pin: host box1 has no compute role \(nothing changed\)/);
      const grouped = await cli(["domain", "set", "web", "--anti-affinity", "w"]);
      assert.equal(grouped.code, 0, grouped.stderr);
      assert.match(
        grouped.stdout,
        /^web: anti-affinity w, pinned to \(any host\), ha auto \(priority 0\)$/m,
      );
      // Placement and HA settings go in one PATCH; the reply shows them all.
      const ha = await cli(["domain", "set", "web", "--ha", "on", "--ha-priority", "7"]);
      assert.equal(ha.code, 0, ha.stderr);
      assert.match(
        ha.stdout,
        /^web: anti-affinity w, pinned to \(any host\), ha on \(priority 7\)$/m,
      );
      const badHa = await cli(["domain", "set", "web", "--ha", "maybe", "--pin", "box1"]);
      assert.equal(badHa.code, 2, badHa.stderr);
      assert.match(badHa.stderr, /--ha maybe: give on, off or auto/);
      const nohost = await cli(["domain", "set", "web", "--pin", "nosuch"]);
      assert.equal(nohost.code, 3, nohost.stderr);
      assert.match(
        nohost.stderr,
        /pin: no host "nosuch"; see etherplane host list \(nothing changed\)/,
      );

      const events = await cli(["events"]);
      assert.equal(events.code, 0, events.stderr);
      assert.match(
        events.stdout,
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z {2}host\.joined\s+box1\s+host box1 joined/m,
      );
      assert.match(events.stdout, /cluster\.setting\s+cpu_overcommit\s+cpu_overcommit = 2/);
      assert.match(
        events.stdout,
        /domain\.settings\s+web\s+web: anti-affinity w \(from the next placement\)/,
      );
      assert.match(events.stdout, /domain\.settings\s+web\s+web: ha on; ha priority 7/);
      const last = await cli(["events", "--json", "--limit", "1"]);
      const [event] = last.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as EventRecord);
      assert.equal(event?.kind, "domain.settings");

      await until("the follower prints the history", () =>
        /domain\.settings/.test(follower.stdout),
      );
      const maintenance = await cli(["host", "maintenance", "box1"]);
      assert.equal(maintenance.code, 0, maintenance.stderr);
      assert.match(maintenance.stdout, /^box1 is in maintenance: nothing ran there$/m);
      const hosts = await cli(["host", "list"]);
      assert.match(hosts.stdout, /^box1\s+maintenance\s/m);
      const refused = await cli(["place", "web"]);
      assert.match(
        refused.stdout,
        /box1\s+no\s+-\s+host box1 is in maintenance \(etherplane host activate box1 ends it\); host box1 has no compute role/,
      );
      await until("the follower sees the maintenance", () =>
        /host\.evacuated\s+box1/.test(follower.stdout),
      );
      const activated = await cli(["host", "activate", "box1"]);
      assert.equal(activated.code, 0, activated.stderr);
      assert.match((await cli(["host", "list"])).stdout, /^box1\s+up\s/m);
      await until("the follower sees the activation", () =>
        /host\.activated\s+box1/.test(follower.stdout),
      );
    } finally {
      await follower.stop();
    }
  });
});
