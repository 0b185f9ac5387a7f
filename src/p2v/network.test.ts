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
