import assert from "node:assert/strict";
import { test } from "node:test";
import { networkEdits } from "./network.js";

test("the server's interface becomes eth0 and its persistent MAC rules are commented out", () => {
  const edits = networkEdits({
    primary: "enp3s0",
    interfaces:
      "auto lo\niface lo inet loopback\n\nallow-hotplug enp3s0\niface enp3s0 inet static\n  address 10.0.0.5/24\nauto enp3s0.10\niface enp3s0.10 inet manual\n",
    persistentNetRules:
      '# generated\nSUBSYSTEM=="net", ACTION=="add", ATTR{address}=="00:25:90:aa:bb:cc", NAME="eth0"\n',
  });
  const rules = edits.find((e) => e.path.endsWith("70-persistent-net.rules"));
  assert.ok(rules?.kind === "write");
  assert.match(rules.text, /\n# etherplane p2v: the physical server's card\n# SUBSYSTEM/);
  const interfaces = edits.find((e) => e.path === "/etc/network/interfaces");
  assert.ok(interfaces?.kind === "write");
  assert.equal(
    interfaces.text,
    "auto lo\niface lo inet loopback\n\nallow-hotplug eth0\niface eth0 inet static\n  address 10.0.0.5/24\nauto eth0.10\niface eth0.10 inet manual\n",
  );
});

test("nothing changes when the server already used eth0 and had no MAC rules", () => {
  assert.deepEqual(
    networkEdits({ primary: "eth0", interfaces: "auto eth0\n", persistentNetRules: undefined }),
    [],
  );
});

const VLAN_INTERFACES =
  "auto enp3s0\niface enp3s0 inet manual\n\nauto enp3s0.100\niface enp3s0.100 inet static\n  address 10.100.0.5/24\n  vlan-raw-device enp3s0\n";

test("a default route on a VLAN interface: its parent becomes eth0 and the VLAN stays tagged on it", () => {
  const edits = networkEdits({
    primary: "enp3s0.100",
    interfaces: VLAN_INTERFACES,
    persistentNetRules: undefined,
    vlan: { interface: "enp3s0.100", parent: "enp3s0", untagged: false },
  });
  const interfaces = edits.find((e) => e.path === "/etc/network/interfaces");
  assert.ok(interfaces?.kind === "write");
  assert.equal(
    interfaces.text,
    "auto eth0\niface eth0 inet manual\n\nauto eth0.100\niface eth0.100 inet static\n  address 10.100.0.5/24\n  vlan-raw-device enp3s0\n",
  );
  assert.doesNotMatch(interfaces.change, /untagged/);
});

test("--keep-vlan: the VLAN interface itself becomes eth0, untagged, its vlan-raw-device commented out", () => {
  const edits = networkEdits({
    primary: "enp3s0.100",
    interfaces: VLAN_INTERFACES,
    persistentNetRules: undefined,
    vlan: { interface: "enp3s0.100", parent: "enp3s0", untagged: true },
  });
  const interfaces = edits.find((e) => e.path === "/etc/network/interfaces");
  assert.ok(interfaces?.kind === "write");
  assert.equal(
    interfaces.text,
    "auto enp3s0\niface enp3s0 inet manual\n\nauto eth0\niface eth0 inet static\n  address 10.100.0.5/24\n  # etherplane p2v: the vif carries the VLAN untagged\n  # vlan-raw-device enp3s0\n",
  );
  assert.match(interfaces.change, /VLAN enp3s0\.100 untagged on the vif/);
});
