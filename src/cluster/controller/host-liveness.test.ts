import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { checkLeaseSettings, HostLiveness, LEASE_DEFAULT, selfFenceMs } from "./host-liveness.js";

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

  test("a host never heard of since the controller started gets one lease from the start", () => {
    let nowMs = 5_000;
    const leases = new HostLiveness(LEASE_DEFAULT, () => nowMs);
    nowMs += LEASE_DEFAULT.deadMs;
    assert.equal(leases.state("never"), "suspect");
    nowMs += 1;
    assert.equal(leases.state("never"), "dead");
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
