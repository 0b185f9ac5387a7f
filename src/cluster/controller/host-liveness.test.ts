import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import {
  checkLeaseSettings,
  FIRST_LEASE_PERIODS,
  HostLiveness,
  LEASE_DEFAULT,
  selfFenceMs,
} from "./host-liveness.js";

/** Fixed settings for the tests that count milliseconds (the defaults may change). */
const LEASE_5S = { renewMs: 1000, suspectMs: 3000, deadMs: 5000 };

describe("host liveness", () => {
  test("up, suspect past suspectMs, dead past deadMs; a renewal makes it up again", () => {
    let nowMs = 1_000_000;
    const leases = new HostLiveness(LEASE_DEFAULT, () => nowMs);
    leases.renew("h1");
    assert.equal(leases.state("h1"), "up");
    nowMs += LEASE_DEFAULT.suspectMs;
    assert.equal(leases.state("h1"), "up", "at exactly suspectMs still up");
    nowMs += 1;
    assert.equal(leases.state("h1"), "suspect");
    nowMs += LEASE_DEFAULT.deadMs - LEASE_DEFAULT.suspectMs - 1;
    assert.equal(leases.state("h1"), "suspect", "at exactly deadMs still suspect");
    nowMs += 1;
    assert.equal(leases.state("h1"), "dead");
    leases.renew("h1");
    assert.equal(leases.state("h1"), "up");
  });

  test("a host never heard of since the controller started gets FIRST_LEASE_PERIODS leases from the start", () => {
    let nowMs = 5_000;
    const leases = new HostLiveness(LEASE_DEFAULT, () => nowMs);
    const { suspectMs, deadMs } = LEASE_DEFAULT;
    nowMs += deadMs + 1;
    assert.equal(leases.state("never"), "up", "one lease is not enough for a first renewal");
    nowMs += FIRST_LEASE_PERIODS * suspectMs - deadMs;
    assert.equal(leases.state("never"), "suspect");
    nowMs += FIRST_LEASE_PERIODS * (deadMs - suspectMs) - 1;
    assert.equal(leases.state("never"), "suspect");
    nowMs += 1;
    assert.equal(leases.state("never"), "dead");
    leases.renew("never");
    nowMs += deadMs + 1;
    assert.equal(leases.state("never"), "dead", "renewed once: the leases are the usual ones");
  });

  test("a host registered after the start gets one lease from its registration", () => {
    let nowMs = 0;
    const leases = new HostLiveness(LEASE_5S, () => nowMs);
    nowMs += 60_000; // the controller has run for a minute
    assert.equal(leases.state("joined"), "dead", "unknown and never registered: dead");
    leases.begin("joined");
    assert.equal(leases.state("joined"), "up", "registered just now: its first lease runs");
    assert.equal(leases.lastRenewal("joined"), undefined, "a registration is not a renewal");
    nowMs += FIRST_LEASE_PERIODS * 5000;
    assert.equal(leases.state("joined"), "suspect");
    nowMs += 1;
    assert.equal(leases.state("joined"), "dead", "no renewal within its first lease: dead");
    leases.renew("joined");
    nowMs += 1000;
    leases.begin("joined"); // registering again never shortens nor restarts a renewed lease
    nowMs += 4000;
    assert.equal(leases.state("joined"), "suspect", "counted from the renewal, not the begin");
  });

  test("a lease counts from the serving start (pardon), not from the controller's construction", () => {
    let nowMs = 0;
    const leases = new HostLiveness(LEASE_5S, () => nowMs);
    nowMs += 8000; // store, journal and routes took their time before the API listened
    leases.pardon();
    assert.equal(leases.state("h1"), "up");
    nowMs += FIRST_LEASE_PERIODS * 5000 + 1;
    assert.equal(leases.state("h1"), "dead");
  });

  test("time the controller could not hear renewals (a late sweep tick) ages no lease", () => {
    let nowMs = 0;
    const leases = new HostLiveness(LEASE_5S, () => nowMs);
    leases.renew("h1");
    nowMs += 2000;
    leases.renew("h2");
    nowMs += 3000; // h1's lease is spent, 1500 ms of it while the event loop was blocked
    leases.credit(1500);
    assert.equal(leases.state("h1"), "suspect", "5000 ms since, 3500 ms of them heard");
    assert.equal(leases.state("h2"), "up", "3000 ms since, 1500 heard");
    assert.equal(leases.lastRenewal("h1"), 0, "what users see stays the wall clock");
    nowMs += 1501;
    assert.equal(leases.state("h1"), "dead", "a lease of heard time expires all the same");
    leases.renew("h1");
    nowMs += 5000;
    assert.equal(leases.state("h1"), "suspect", "renewed after the credit: not dead at 5000 ms");
    nowMs += 1;
    assert.equal(leases.state("h1"), "dead");
    leases.credit(-5);
    leases.credit(Number.NaN);
    assert.equal(leases.state("h1"), "dead", "no credit from a clock that went back");
  });

  test("a controller stall pardons everyone: leases restart at the pardon", () => {
    let nowMs = 0;
    const leases = new HostLiveness(LEASE_DEFAULT, () => nowMs);
    leases.renew("h1");
    nowMs += 10_000;
    assert.equal(leases.state("h1"), "dead");
    leases.pardon();
    assert.equal(leases.state("h1"), "up");
    assert.equal(leases.state("other"), "up");
  });

  test("in the warm-up after a pardon every lease lasts FIRST_LEASE_PERIODS; after it, one", () => {
    let nowMs = 0;
    const { deadMs, suspectMs } = LEASE_DEFAULT;
    const leases = new HostLiveness(LEASE_DEFAULT, () => nowMs);
    leases.pardon();
    nowMs += 1000;
    leases.renew("early"); // renewed once, then its next renewals wait behind the warm-up's work
    nowMs += deadMs + 1;
    assert.equal(leases.state("early"), "up", "a renewed host is not dead one lease later");
    nowMs = 1000 + FIRST_LEASE_PERIODS * suspectMs + 1;
    assert.equal(leases.state("early"), "suspect");
    const warmEndMs = FIRST_LEASE_PERIODS * deadMs;
    nowMs = warmEndMs - 1;
    assert.equal(leases.state("early"), "suspect", "still in the warm-up");
    nowMs = warmEndMs;
    assert.equal(leases.state("early"), "dead", "the warm-up is over: one lease, long spent");
    leases.renew("late");
    nowMs += deadMs;
    assert.equal(leases.state("late"), "suspect", "after the warm-up a lease lasts one period");
    nowMs += 1;
    assert.equal(leases.state("late"), "dead");
    const fresh = new HostLiveness(LEASE_DEFAULT, () => nowMs);
    fresh.renew("h");
    nowMs += deadMs + 1;
    assert.equal(fresh.state("h"), "dead", "no warm-up without a pardon");
  });

  test("the agent self-fences two renewals before the controller's dead timeout", () => {
    const { renewMs, deadMs } = LEASE_DEFAULT;
    assert.equal(selfFenceMs(LEASE_DEFAULT), Math.max(2 * renewMs, deadMs - 2 * renewMs));
    assert.ok(selfFenceMs(LEASE_DEFAULT) <= deadMs - 2 * renewMs, "two renewals of margin");
    assert.ok(selfFenceMs({ renewMs: 100, suspectMs: 200, deadMs: 300 }) < 300);
  });

  test("settings out of bounds are refused with the flag to fix", () => {
    const refused = (settings: typeof LEASE_DEFAULT, flag: RegExp) =>
      assert.throws(
        () => checkLeaseSettings(settings),
        (e: unknown) => isEtherplaneError(e, "INVALID_ARGUMENT") && flag.test(e.message),
      );
    refused({ renewMs: 50, suspectMs: 3000, deadMs: 5000 }, /--lease-renew-ms: 50/);
    refused({ renewMs: 1000, suspectMs: 3000, deadMs: 2000 }, /--lease-dead-ms: 2000 .*3000/);
    refused({ renewMs: 1000, suspectMs: 6000, deadMs: 5000 }, /--lease-suspect-ms: 6000/);
    assert.deepEqual(checkLeaseSettings(LEASE_DEFAULT), LEASE_DEFAULT);
  });
});
