import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  availabilityOver,
  DAY_MS,
  domainAvailability,
  formatAvailability,
  type DomainStateChange,
} from "./domain-availability.js";

const T0 = 1_000_000;
const change = (s: number, wanted: boolean, up: boolean): DomainStateChange => ({
  timeMs: T0 + s * 1000,
  wanted,
  up,
});

describe("domain availability", () => {
  test("running all the time it was wanted: 100%, the time before its start not counted", () => {
    const changes = [change(0, false, false), change(10, true, false), change(12, true, true)];
    const w = availabilityOver(changes, T0, T0 + 112_000);
    assert.equal(w.wantedMs, 102_000);
    assert.equal(w.upMs, 100_000);
    assert.equal(w.percent, 98.04);
  });

  test("a failover's outage counts; a stop an admin asked for does not", () => {
    const changes = [
      change(0, true, true),
      change(100, true, false), // host died
      change(108, true, true), // restarted elsewhere
      change(200, false, true), // shutdown asked
      change(205, false, false),
      change(300, true, true), // started again
    ];
    const w = availabilityOver(changes, T0, T0 + 400_000);
    assert.equal(w.wantedMs, 300_000);
    assert.equal(w.upMs, 292_000);
    assert.equal(w.percent, 97.33);
  });

  test("a window that starts mid-state takes the state at its start", () => {
    const changes = [change(0, true, true), change(50, true, false), change(60, true, true)];
    const w = availabilityOver(changes, T0 + 55_000, T0 + 65_000);
    assert.equal(w.wantedMs, 10_000);
    assert.equal(w.upMs, 5_000);
    assert.equal(w.percent, 50);
    // Changes after the window do not count.
    const before = availabilityOver(changes, T0, T0 + 40_000);
    assert.deepEqual([before.wantedMs, before.upMs, before.percent], [40_000, 40_000, 100]);
  });

  test("never wanted running: no percentage, and said so", () => {
    const w = availabilityOver([change(0, false, false)], T0, T0 + 60_000);
    assert.equal(w.percent, null);
    assert.match(formatAvailability(w), /never wanted running/);
    assert.equal(availabilityOver([], T0, T0 + 1000).percent, null);
  });

  test("the last 24 h and since created, on an injected now", () => {
    const changes = [change(0, true, true), change(3600, true, false), change(3660, true, true)];
    const nowMs = T0 + 2 * DAY_MS;
    const a = domainAvailability(changes, nowMs);
    assert.equal(a.last24h.fromMs, nowMs - DAY_MS);
    assert.equal(a.last24h.percent, 100, "the outage was more than a day ago");
    assert.equal(a.sinceCreated.fromMs, T0);
    assert.equal(a.sinceCreated.wantedMs, 2 * DAY_MS);
    assert.equal(a.sinceCreated.upMs, 2 * DAY_MS - 60_000);
    assert.equal(a.sinceCreated.percent, 99.97);
    assert.match(formatAvailability(a.sinceCreated), /^99\.97% of 48\.0 h wanted running$/);
    // A domain younger than a day: its 24 h window starts at its creation.
    const young = domainAvailability([change(0, true, true)], T0 + 30_000);
    assert.equal(young.last24h.fromMs, T0);
    assert.match(formatAvailability(young.last24h), /^100\.00% of 30 s/);
  });
});
