import assert from "node:assert/strict";
import { test } from "node:test";
import { isEtherplaneError } from "../foundation/errors.js";
import { domainFile } from "./domain-file.js";
import { parseFacts } from "./inspect.js";
import { planP2v } from "./plan.js";
import { inspectedOutput } from "./testing/inspected.js";
import { chooseVlanNetwork, parseVlanConfig, primaryVlan } from "./vlan.js";

/** /proc/net/vlan/config as Linux 6.1 prints it (net/8021q/vlanproc.c) with two VLANs. */
const VLAN_CONFIG = `VLAN Dev name	 | VLAN ID
Name-Type: VLAN_NAME_TYPE_RAW_PLUS_VID_NO_PAD
eth0.100       | 100  | eth0
vlan7          | 7  | eth1
`;

/** A server whose default route is on its VLAN interface eth0.100. */
const inspected = inspectedOutput({
  mounts: "/dev/sda1 / ext4 rw,relatime 0 0\n",
  df: `Filesystem     1024-blocks    Used Available Capacity Mounted on
/dev/sda1          4062912 1048576   2787456      28% /
`,
  route: "default via 10.100.0.1 dev eth0.100 onlink\n",
  boot: "",
  vlan: VLAN_CONFIG,
  tools: "/usr/bin/tar\n",
});

const networks = [
  { name: "xenbr0", host: "h1", vlanId: null },
  { name: "v100", host: "h1", vlanId: 100 },
  { name: "v100", host: "h2", vlanId: 100 },
  { name: "v7", host: "h1", vlanId: 7 },
];

test("/proc/net/vlan/config: each VLAN interface, its id and parent; headers and junk skipped", () => {
  assert.deepEqual(parseVlanConfig(VLAN_CONFIG), [
    { interface: "eth0.100", id: 100, parent: "eth0" },
    { interface: "vlan7", id: 7, parent: "eth1" },
  ]);
  assert.deepEqual(parseVlanConfig(""), []);
  assert.deepEqual(
    parseVlanConfig("x | 0 | eth0\ny | 4095 | eth0\nz | 1x | eth0\n$(rm) | 5 | eth0"),
    [],
  );
  assert.equal(primaryVlan(parseVlanConfig(VLAN_CONFIG), "eth0")?.id, undefined);
  assert.equal(primaryVlan(parseVlanConfig(VLAN_CONFIG), "vlan7")?.id, 7);
});

test("--keep-vlan: the plan puts the vif on the network carrying the source's VLAN, and the domain file says so", () => {
  const facts = parseFacts(inspected);
  assert.equal(facts.primaryInterface, "eth0.100");
  const plan = planP2v(facts, { name: "noc", hypervisor: "qemu", keepVlan: true, networks });
  assert.deepEqual(plan.vlan, { interface: "eth0.100", id: 100, parent: "eth0" });
  assert.equal(plan.network, "v100");
  assert.ok(!plan.warnings.some((w) => /--keep-vlan/.test(w)), plan.warnings.join("\n"));
  const file = domainFile({
    plan,
    address: { shelf: 1, slot: 2 },
    boot: undefined,
    hypervisor: "qemu",
  });
  assert.match(file, /vif = \[ ?"bridge=v100" ?\]/);
  // Named explicitly: accepted when it carries the VLAN.
  const named = planP2v(facts, {
    name: "noc",
    hypervisor: "qemu",
    keepVlan: true,
    networks,
    network: "v100",
  });
  assert.equal(named.network, "v100");
});

test("without --keep-vlan the plan keeps --network and warns that the source had a VLAN", () => {
  const plan = planP2v(parseFacts(inspected), {
    name: "noc",
    hypervisor: "qemu",
    network: "xenbr0",
  });
  assert.equal(plan.network, "xenbr0");
  assert.ok(
    plan.warnings.some((w) => /eth0\.100 is 802\.1q VLAN 100 on eth0: --keep-vlan/.test(w)),
  );
});

test("--keep-vlan refusals say what to do: no VLAN on the source, no network for it, a network of another VLAN, two candidates", () => {
  const vlan = { interface: "eth0.100", id: 100, parent: "eth0" };
  assert.throws(
    () => chooseVlanNetwork(undefined, networks, undefined, "enp3s0"),
    (e) =>
      isEtherplaneError(e, "INVALID_CONFIG") && /enp3s0.*leave out --keep-vlan/.test(e.message),
  );
  assert.throws(
    () => chooseVlanNetwork({ ...vlan, id: 200 }, networks, undefined, "eth0.100"),
    (e) =>
      isEtherplaneError(e, "NOT_FOUND") &&
      /etherplane network create NAME --host HOST --uplink IF --vlan 200/.test(e.message),
  );
  assert.throws(
    () => chooseVlanNetwork(vlan, networks, "xenbr0", "eth0.100"),
    (e) =>
      isEtherplaneError(e, "INVALID_CONFIG") &&
      /xenbr0 is untagged on h1.*use --network v100/.test(e.message),
  );
  assert.throws(
    () => chooseVlanNetwork(vlan, networks, "nope", "eth0.100"),
    (e) => isEtherplaneError(e, "NOT_FOUND") && /carried by v100/.test(e.message),
  );
  assert.throws(
    () =>
      chooseVlanNetwork(
        vlan,
        [...networks, { name: "lab100", host: "h3", vlanId: 100 }],
        undefined,
        "eth0.100",
      ),
    (e) => isEtherplaneError(e, "CONFLICT") && /lab100, v100 .*--network/.test(e.message),
  );
  // The plan refuses before anything is made.
  const facts = parseFacts(inspected.replace("dev eth0.100", "dev eth0"));
  assert.throws(
    () => planP2v(facts, { name: "noc", hypervisor: "qemu", keepVlan: true, networks }),
    (e) => isEtherplaneError(e, "INVALID_CONFIG"),
  );
});
