/**
 * The watchdog fed by the lease, on virtual time, writing to a real path: a regular file (or a
 * FIFO) STANDS IN FOR /dev/watchdog, so every byte the agent would write to the kernel is read
 * back. Keepalives while renewals succeed, none while they fail, the magic close 'V' on a clean
 * stop.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { createLogger } from "../../foundation/log.js";
import { SimClock } from "../../foundation/sim-clock.js";
import type { LeaseGrant } from "../controller/host-liveness.js";
import { LeaseHolder } from "./lease-holder.js";
import { Watchdog } from "./watchdog.js";
import { checkWatchdogPath, openWatchdogDevice } from "./watchdog-device.js";

const log = createLogger("test:watchdog");
const grant: LeaseGrant = { renewMs: 1000, deadMs: 5000, selfFenceMs: 3000, state: "up" };

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ep-watchdog-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe("the agent's watchdog", () => {
  test("fed after each renewal, not while renewals fail, and the magic close on a clean stop", async (t) => {
    // A regular file standing in for the device: it keeps what was written, in order.
    const standIn = path.join(tempDir(t), "watchdog-stand-in");
    fs.writeFileSync(standIn, "");
    const watchdog = new Watchdog(openWatchdogDevice(standIn), log);
    const clock = new SimClock();
    let reachable = true;
    let renewals = 0;
    const lease = new LeaseHolder(
      () => {
        if (!reachable) return Promise.reject(new Error("ECONNREFUSED"));
        renewals++;
        return Promise.resolve(grant);
      },
      { onLost: () => {}, onRegained: () => {}, onRenewed: () => watchdog.feed() },
      clock,
      log,
    );
    const written = () => fs.readFileSync(standIn, "utf8");

    lease.start();
    await clock.advance(10_000);
    const fed = written();
    assert.match(fed, /^\.+$/, "only keepalives, no 'V'");
    assert.equal(fed.length, renewals, "one keepalive per successful renewal");
    assert.ok(renewals >= 10, `${renewals} renewals`);

    reachable = false;
    await clock.advance(10_000);
    assert.equal(written(), fed, "no keepalive while the renewals fail");
    assert.equal(lease.lost, true);

    reachable = true;
    await clock.advance(3_000);
    assert.ok(written().length > fed.length, "fed again once renewals succeed");

    await lease.stop();
    watchdog.close();
    assert.match(written(), /^\.+V$/, "the magic close last");
    watchdog.close();
    watchdog.feed();
    assert.match(written(), /^\.+V$/, "nothing after the close");
  });

  test("a FIFO standing in for the device gets the same bytes", (t) => {
    const fifo = path.join(tempDir(t), "watchdog-fifo");
    execFileSync("mkfifo", [fifo]);
    // No reader: refused at once (O_NONBLOCK), with what to do, never a hang.
    assert.throws(
      () => openWatchdogDevice(fifo),
      (e: unknown) => isEtherplaneError(e, "UNAVAILABLE") && /ENXIO.*softdog/.test(e.message),
    );
    const reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    t.after(() => fs.closeSync(reader));
    const watchdog = new Watchdog(openWatchdogDevice(fifo), log);
    watchdog.feed();
    watchdog.feed();
    watchdog.close();
    const buffer = Buffer.alloc(16);
    const n = fs.readSync(reader, buffer);
    assert.equal(buffer.subarray(0, n).toString(), "..V");
  });

  test("a missing device is refused before anything is armed, saying what to do", (t) => {
    const missing = path.join(tempDir(t), "no-watchdog");
    assert.throws(
      () => checkWatchdogPath(missing),
      (e: unknown) => isEtherplaneError(e, "UNAVAILABLE") && /modprobe softdog/.test(e.message),
    );
    assert.equal(fs.existsSync(missing), false, "no file made at a mistyped path");
    assert.throws(() => openWatchdogDevice(missing), /modprobe softdog/);
    assert.equal(fs.existsSync(missing), false);
  });
});
