import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isEtherplaneError, type ErrorCode } from "../../foundation/errors.js";
import { readIpLinkFixture } from "./fixtures.js";
import { parseIpLinkJson, type ObservedLink } from "./ip-link-json.js";
import { planHostNetwork, planHostNetworkRemoval } from "./plan.js";
import type { HostNetworkSpec } from "./spec.js";

function nic(name: string, more: Partial<ObservedLink> = {}): ObservedLink {
  return {
    name,
    index: 0,
    kind: "other",
    driver: undefined,
    master: undefined,
    vlan: undefined,
    up: true,
    mtu: 1500,
    ...more,
  };
}
const bridge = (name: string, more: Partial<ObservedLink> = {}) =>
  nic(name, { kind: "bridge", driver: "bridge", ...more });
const vlan = (name: string, parent: string, id: number, more: Partial<ObservedLink> = {}) =>
  nic(name, { kind: "vlan", driver: "vlan", vlan: { id, parent, protocol: "802.1Q" }, ...more });
const lo = nic("lo", { mtu: 65536 });

/** Commands as text, easier to read in a failing assertion. */
const plan = (spec: HostNetworkSpec, observed: ObservedLink[]) =>
  planHostNetwork(spec, observed).map((argv) => argv.join(" "));
const removal = (spec: HostNetworkSpec, observed: ObservedLink[]) =>
  planHostNetworkRemoval(spec, observed).map((argv) => argv.join(" "));

function refused(run: () => unknown, code: ErrorCode, ...patterns: RegExp[]): void {
  assert.throws(run, (error) => {
    assert.ok(isEtherplaneError(error, code), `expected ${code}, got ${String(error)}`);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

const hostOnly: HostNetworkSpec = { name: "internal", bridge: "xenbr9" };
const untagged: HostNetworkSpec = { name: "lan", bridge: "xenbr1", uplink: "eth1" };
const tagged: HostNetworkSpec = { name: "v10", bridge: "xenbr10", uplink: "eth1", vlanId: 10 };

describe("planHostNetwork: host-only", () => {
  test("creates and raises a missing bridge, with its MTU", () => {
    assert.deepEqual(plan(hostOnly, [lo]), [
      "link add name xenbr9 type bridge",
      "link set dev xenbr9 up",
    ]);
    assert.deepEqual(plan({ ...hostOnly, mtu: 9000 }, [lo]), [
      "link add name xenbr9 type bridge",
      "link set dev xenbr9 mtu 9000",
      "link set dev xenbr9 up",
    ]);
  });

  test("only fixes what differs on an existing bridge", () => {
    assert.deepEqual(plan(hostOnly, [bridge("xenbr9")]), []);
    assert.deepEqual(plan(hostOnly, [bridge("xenbr9", { up: false })]), ["link set dev xenbr9 up"]);
    assert.deepEqual(plan({ ...hostOnly, mtu: 9000 }, [bridge("xenbr9")]), [
      "link set dev xenbr9 mtu 9000",
    ]);
    // Without an MTU in the spec, the bridge's own is left alone.
    assert.deepEqual(plan(hostOnly, [bridge("xenbr9", { mtu: 9000 })]), []);
  });

  test("refuses a bridge name taken by another kind of interface, touching nothing", () => {
    refused(
      () => plan(hostOnly, [nic("xenbr9", { driver: "veth" })]),
      "CONFLICT",
      /^network "internal": xenbr9 exists and is a veth interface, not a bridge/,
      /choose another bridge name/,
    );
    refused(
      () => plan(hostOnly, [vlan("xenbr9", "eth0", 9)]),
      "CONFLICT",
      /is a vlan, not a bridge/,
    );
    refused(() => plan(hostOnly, [nic("xenbr9")]), "CONFLICT", /is a network device, not a bridge/);
  });
});

describe("planHostNetwork: untagged uplink", () => {
  test("creates the bridge and enslaves the uplink", () => {
    assert.deepEqual(plan(untagged, [lo, nic("eth1")]), [
      "link add name xenbr1 type bridge",
      "link set dev eth1 master xenbr1",
      "link set dev xenbr1 up",
    ]);
  });

  test("raises a down uplink, and an uplink MTU below the network's", () => {
    assert.deepEqual(plan({ ...untagged, mtu: 9000 }, [nic("eth1", { up: false })]), [
      "link set dev eth1 mtu 9000",
      "link set dev eth1 up",
      "link add name xenbr1 type bridge",
      "link set dev eth1 master xenbr1",
      "link set dev xenbr1 mtu 9000",
      "link set dev xenbr1 up",
    ]);
  });

  test("never lowers the uplink's MTU", () => {
    assert.deepEqual(
      plan({ ...untagged, mtu: 1500 }, [
        nic("eth1", { mtu: 9000, master: "xenbr1" }),
        bridge("xenbr1", { mtu: 1500 }),
      ]),
      [],
    );
  });

  test("enslaves into an existing bridge that has other ports", () => {
    const observed = [nic("eth1"), bridge("xenbr1"), nic("vif3.0", { master: "xenbr1" })];
    assert.deepEqual(plan(untagged, observed), ["link set dev eth1 master xenbr1"]);
  });

  test("a converged host plans nothing", () => {
    assert.deepEqual(plan(untagged, [lo, nic("eth1", { master: "xenbr1" }), bridge("xenbr1")]), []);
  });

  test("a missing uplink is NOT_FOUND, saying how to find one", () => {
    refused(() => plan(untagged, [lo]), "NOT_FOUND", /uplink eth1 does not exist/, /ip link show/);
  });

  test("refuses an uplink that is a port of another master, and a bridge as uplink", () => {
    refused(
      () => plan(untagged, [nic("eth1", { master: "bond0" }), bridge("xenbr1")]),
      "CONFLICT",
      /eth1 is already a port of bond0/,
      /ip link set dev eth1 nomaster/,
    );
    refused(() => plan(untagged, [bridge("eth1")]), "CONFLICT", /uplink eth1 is a bridge/);
  });

  test("on real output: the converged bridge plans nothing, the other one its changes", () => {
    const observed = parseIpLinkJson(readIpLinkFixture("host-bridge-veth-tap.txt"));
    assert.deepEqual(
      plan({ name: "lan", bridge: "xenbr1", uplink: "eth1", mtu: 9000 }, observed),
      [],
    );
    assert.deepEqual(plan({ name: "lan", bridge: "xenbr1" }, observed), []);
    assert.deepEqual(plan({ name: "two", bridge: "xenbr2", uplink: "eth2" }, observed), [
      "link set dev eth2 up",
      "link set dev eth2 master xenbr2",
      "link set dev xenbr2 up",
    ]);
    refused(
      () => plan({ name: "x", bridge: "eth3" }, observed),
      "CONFLICT",
      /eth3 exists and is a veth interface/,
    );
    refused(
      () => plan({ name: "x", bridge: "xenbr2", uplink: "eth1" }, observed),
      "CONFLICT",
      /port of xenbr1/,
    );
  });
});

describe("planHostNetwork: VLAN on an uplink", () => {
  test("creates the VLAN interface first, then the bridge", () => {
    assert.deepEqual(plan(tagged, [lo, nic("eth1")]), [
      "link add link eth1 name eth1.10 type vlan id 10",
      "link set dev eth1.10 up",
      "link add name xenbr10 type bridge",
      "link set dev eth1.10 master xenbr10",
      "link set dev xenbr10 up",
    ]);
  });

  test("with an MTU: uplink raised, VLAN interface and bridge set", () => {
    assert.deepEqual(plan({ ...tagged, mtu: 9000 }, [nic("eth1", { up: false })]), [
      "link add link eth1 name eth1.10 type vlan id 10",
      "link set dev eth1 mtu 9000",
      "link set dev eth1 up",
      "link set dev eth1.10 mtu 9000",
      "link set dev eth1.10 up",
      "link add name xenbr10 type bridge",
      "link set dev eth1.10 master xenbr10",
      "link set dev xenbr10 mtu 9000",
      "link set dev xenbr10 up",
    ]);
  });

  test("reuses an existing VLAN interface of the right id and parent", () => {
    assert.deepEqual(plan(tagged, [nic("eth1"), vlan("eth1.10", "eth1", 10, { up: false })]), [
      "link set dev eth1.10 up",
      "link add name xenbr10 type bridge",
      "link set dev eth1.10 master xenbr10",
      "link set dev xenbr10 up",
    ]);
  });

  test("a converged host plans nothing, also when the uplink is a port of another bridge", () => {
    const converged = [
      nic("eth1", { master: "xenbr1" }),
      bridge("xenbr1"),
      vlan("eth1.10", "eth1", 10, { master: "xenbr10" }),
      bridge("xenbr10"),
    ];
    assert.deepEqual(plan(tagged, converged), []);
    assert.deepEqual(plan({ ...tagged, mtu: 1500 }, converged), []);
  });

  test("a VLAN on a bridge used as uplink is fine", () => {
    assert.deepEqual(
      plan({ name: "v", bridge: "xenbr10", uplink: "br0", vlanId: 10 }, [bridge("br0")])[0],
      "link add link br0 name br0.10 type vlan id 10",
    );
  });

  test("refuses a VLAN interface name taken by something else, saying what it is", () => {
    const uplink = nic("eth1");
    refused(
      () => plan(tagged, [uplink, vlan("eth1.10", "eth1", 20)]),
      "CONFLICT",
      /eth1\.10 exists and is VLAN 20 on eth1, not VLAN 10 on eth1/,
    );
    refused(
      () => plan(tagged, [uplink, nic("eth2"), vlan("eth1.10", "eth2", 10)]),
      "CONFLICT",
      /VLAN 10 on eth2, not VLAN 10 on eth1/,
    );
    refused(
      () =>
        plan(tagged, [
          uplink,
          vlan("eth1.10", "eth1", 10, { vlan: { id: 10, parent: "eth1", protocol: "802.1ad" } }),
        ]),
      "CONFLICT",
      /VLAN 10 \(802\.1ad\) on eth1/,
    );
    refused(
      () =>
        plan(tagged, [
          uplink,
          vlan("eth1.10", "eth1", 10, { vlan: { id: 10, parent: undefined, protocol: "802.1Q" } }),
        ]),
      "CONFLICT",
      /a parent in another namespace/,
    );
    refused(
      () => plan(tagged, [uplink, nic("eth1.10", { driver: "veth" })]),
      "CONFLICT",
      /is a veth interface, not VLAN 10/,
      /remove or rename eth1\.10 yourself/,
    );
  });

  test("refuses when the VLAN exists under another name (Linux allows one per uplink)", () => {
    refused(
      () => plan(tagged, [nic("eth1"), vlan("vlan10", "eth1", 10)]),
      "CONFLICT",
      /already exists as vlan10/,
      /name eth1\.10/,
    );
  });

  test("refuses a VLAN interface that is a port of another bridge", () => {
    refused(
      () => plan(tagged, [nic("eth1"), vlan("eth1.10", "eth1", 10, { master: "br-other" })]),
      "CONFLICT",
      /eth1\.10 is already a port of br-other/,
      /another VLAN id/,
    );
  });

  test("still needs its uplink", () => {
    refused(() => plan(tagged, [lo]), "NOT_FOUND", /uplink eth1/);
  });

  test("validates the spec first", () => {
    refused(
      () => plan({ ...tagged, vlanId: 5000 }, [nic("eth1")]),
      "INVALID_ARGUMENT",
      /vlanId 5000/,
    );
  });
});

describe("planHostNetworkRemoval", () => {
  test("nothing to remove plans nothing", () => {
    assert.deepEqual(removal(untagged, [lo, nic("eth1")]), []);
    assert.deepEqual(removal(tagged, [nic("eth1")]), []);
  });

  test("deletes the bridge when only its uplink is left, leaving the uplink", () => {
    assert.deepEqual(removal(untagged, [nic("eth1", { master: "xenbr1" }), bridge("xenbr1")]), [
      "link del dev xenbr1",
    ]);
    assert.deepEqual(removal(hostOnly, [bridge("xenbr9")]), ["link del dev xenbr9"]);
  });

  test("deletes the bridge, then the VLAN interface", () => {
    const observed = [
      nic("eth1"),
      vlan("eth1.10", "eth1", 10, { master: "xenbr10" }),
      bridge("xenbr10"),
    ];
    assert.deepEqual(removal(tagged, observed), ["link del dev xenbr10", "link del dev eth1.10"]);
    assert.deepEqual(removal(tagged, [nic("eth1"), vlan("eth1.10", "eth1", 10)]), [
      "link del dev eth1.10",
    ]);
  });

  test("refuses while other ports remain, naming them", () => {
    const observed = [
      nic("eth1", { master: "xenbr1" }),
      bridge("xenbr1"),
      nic("vif7.0", { master: "xenbr1" }),
      nic("vif3.0", { master: "xenbr1" }),
    ];
    refused(
      () => removal(untagged, observed),
      "CONFLICT",
      /bridge xenbr1 still has ports vif3\.0, vif7\.0: stop or move the domains/,
    );
    const real = parseIpLinkJson(readIpLinkFixture("host-bridge-veth-tap.txt"));
    refused(
      () => removal({ name: "lan", bridge: "xenbr1", uplink: "eth1" }, real),
      "CONFLICT",
      /ports vif1\.0:/,
    );
    assert.deepEqual(removal({ name: "two", bridge: "xenbr2" }, real), ["link del dev xenbr2"]);
  });

  test("leaves alone what it would not have created", () => {
    refused(
      () => removal(hostOnly, [nic("xenbr9", { driver: "veth" })]),
      "CONFLICT",
      /xenbr9 is a veth interface, not this network's bridge/,
    );
    // eth1.10 is someone else's VLAN 20: the bridge goes, eth1.10 stays.
    assert.deepEqual(
      removal(tagged, [nic("eth1"), vlan("eth1.10", "eth1", 20), bridge("xenbr10")]),
      ["link del dev xenbr10"],
    );
    refused(
      () => removal(tagged, [nic("eth1"), vlan("eth1.10", "eth1", 10, { master: "br-other" })]),
      "CONFLICT",
      /eth1\.10 is a port of br-other/,
    );
  });
});
