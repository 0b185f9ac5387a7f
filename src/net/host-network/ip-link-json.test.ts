import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { readIpLinkFixture } from "./fixtures.js";
import { parseIpLinkJson, type ObservedLink } from "./ip-link-json.js";

const byName = (links: ObservedLink[]) => new Map(links.map((l) => [l.name, l]));

describe("parseIpLinkJson on real output", () => {
  test("host: a bridge with a veth port (peer in another namespace) and a tap", () => {
    const links = byName(parseIpLinkJson(readIpLinkFixture("host-bridge-veth-tap.txt")));
    assert.deepEqual(
      [...links.keys()],
      ["lo", "eth1", "eth3", "eth2", "xenbr1", "vif1.0", "xenbr2"],
    );
    assert.deepEqual(links.get("eth1"), {
      name: "eth1",
      index: 2,
      kind: "other",
      driver: "veth",
      master: "xenbr1",
      vlan: undefined,
      up: true, // UP without carrier: the admin state is what counts
      mtu: 9000,
    });
    assert.deepEqual(links.get("xenbr1"), {
      name: "xenbr1",
      index: 5,
      kind: "bridge",
      driver: "bridge",
      master: undefined,
      vlan: undefined,
      up: true,
      mtu: 9000,
    });
    assert.equal(links.get("vif1.0")?.driver, "tun");
    assert.equal(links.get("vif1.0")?.master, "xenbr1");
    assert.equal(links.get("vif1.0")?.up, false);
    assert.equal(links.get("xenbr2")?.up, false);
    assert.equal(links.get("lo")?.driver, undefined);
    assert.equal(links.get("lo")?.kind, "other");
  });

  test("guest: a VLAN interface on a NIC, as a port of a bridge (Debian 6.1 kernel, iproute2 6.1)", () => {
    const links = byName(parseIpLinkJson(readIpLinkFixture("guest-vlan-bridge.txt")));
    const vlan = links.get("eth0.10");
    assert.equal(vlan?.kind, "vlan");
    assert.deepEqual(vlan?.vlan, { id: 10, parent: "eth0", protocol: "802.1Q" });
    assert.equal(vlan?.master, "xenbr10");
    assert.equal(vlan?.up, true);
    const nic = links.get("eth0");
    assert.equal(nic?.driver, undefined); // a virtio NIC has no linkinfo
    assert.equal(links.get("xenbr10")?.kind, "bridge");
  });
});

describe("parseIpLinkJson on broken or hostile input", () => {
  const refused = (text: string, pattern: RegExp) =>
    assert.throws(
      () => parseIpLinkJson(text),
      (error) => isEtherplaneError(error, "PROTOCOL") && pattern.test(error.message),
    );
  const one = (fields: Record<string, unknown>) =>
    JSON.stringify([{ ifindex: 1, ifname: "x", flags: [], mtu: 1500, ...fields }]);

  test("an empty list is no interfaces", () => {
    assert.deepEqual(parseIpLinkJson("[]"), []);
  });

  test("refuses what is not the expected JSON, saying what", () => {
    refused("", /invalid JSON/);
    refused(readIpLinkFixture("host-bridge-veth-tap.txt").slice(0, 500), /invalid JSON/);
    refused("{}", /not a list/);
    refused("[1]", /entry 0 is not an object/);
    refused(JSON.stringify([{ ifindex: 1, flags: [], mtu: 1 }]), /entry 0 has no ifname/);
    refused(one({ ifindex: "1" }), /interface x: ifindex/);
    refused(one({ mtu: 1.5 }), /interface x: mtu/);
    refused(one({ flags: "UP" }), /flags/);
    refused(one({ flags: [1] }), /flags/);
    refused(one({ master: 3 }), /master is not a string/);
    refused(one({ linkinfo: [] }), /linkinfo is not an object/);
    refused(one({ linkinfo: { info_kind: "vlan" } }), /vlan without info_data\.id/);
    refused(one({ linkinfo: { info_kind: "vlan", info_data: { id: "10" } } }), /info_data\.id/);
    const entry = { ifindex: 1, ifname: "x", flags: [], mtu: 1500 };
    refused(JSON.stringify([entry, { ...entry, ifindex: 2 }]), /listed twice/);
  });

  test("bounds the size of the output and the number of interfaces", () => {
    refused(" ".repeat(32 * 1024 * 1024 + 1), /over 33554432 bytes/);
    const many = Array.from({ length: 100_001 }, (_, i) => ({
      ifindex: i,
      ifname: `i${i}`,
      flags: [],
      mtu: 1,
    }));
    refused(JSON.stringify(many), /over 100000 interfaces/);
  });
});
