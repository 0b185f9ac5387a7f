/**
 * Boot planning, without booting: what dom0's `/ep/config`, `/ep/shares` and `/ep/nics` say,
 * QEMU's device arguments, and the options refused before anything is made.
 */
import assert from "node:assert/strict";
import { realpathSync } from "node:fs";
import { test } from "node:test";
import { Namespace } from "../netns.js";
import { repoRoot } from "../repo.js";
import {
  dom0NodePath,
  dom0ProjectRoot,
  planBoot,
  type XenHostCommonOptions,
} from "./host-config.js";

const lan = new Namespace("ept-plan-lan");
const script = { mode: "script", scriptS: 60 } as const;

function fileOf(options: XenHostCommonOptions, path: string): string {
  const file = planBoot(options, script).files.find((f) => f.path === path);
  return String(file?.content ?? "");
}

void test("defaults: 2 GiB machine, 512 MiB and 1 vCPU for dom0, no devices", () => {
  const plan = planBoot({}, script);
  assert.deepEqual([plan.memoryMiB, plan.dom0MemMiB, plan.cpus, plan.dom0Vcpus], [2048, 512, 2, 1]);
  assert.deepEqual(plan.deviceArgs, []);
  assert.deepEqual(plan.copies, []);
  assert.equal(plan.network, undefined);
  assert.equal(
    fileOf({}, "ep/config"),
    "ep_mode='script'\nep_script_s='60'\nep_ready_s='30'\nep_data_mib='64'\n",
  );
});

void test("network: eth0 on a bridge with xenbr0 and an address, eth1 on another", () => {
  const options: XenHostCommonOptions = {
    network: {
      bridgeNs: lan,
      bridge: "mgmt",
      address: "10.77.0.50/24",
      guestBridge: "xenbr0",
      mtu: 9000,
      moreNics: [{ bridge: "san", mac: "02:00:00:00:00:02", address: "10.78.0.50/24" }],
    },
    aoe: { interface: "eth1", waitFor: ["e1.0", "e7.3"], params: { aoe_deadsecs: 10 } },
  };
  const plan = planBoot(options, script);
  const [eth0, eth1] = plan.network?.nics ?? [];
  assert.equal(eth0?.ifname, "eth0");
  assert.equal(eth0?.mtu, 9000);
  assert.match(eth0?.mac ?? "", /^02:e8(:[0-9a-f]{2}){4}$/);
  assert.equal(eth1?.ifname, "eth1");
  assert.equal(eth1?.bridge, "san");
  for (const nic of [eth0, eth1]) assert.ok((nic?.tap.length ?? 99) <= 15, nic?.tap);
  assert.notEqual(eth0?.tap, eth1?.tap);
  assert.deepEqual(plan.deviceArgs, [
    ...["-netdev", `tap,id=n0,ifname=${eth0?.tap},script=no,downscript=no`],
    ...["-device", `virtio-net-pci,netdev=n0,mac=${eth0?.mac},romfile=`],
    ...["-netdev", `tap,id=n1,ifname=${eth1?.tap},script=no,downscript=no`],
    ...["-device", "virtio-net-pci,netdev=n1,mac=02:00:00:00:00:02,romfile="],
  ]);
  const config = fileOf(options, "ep/config");
  for (const line of [
    "ep_net='1'",
    "ep_mtu='9000'",
    "ep_bridge='xenbr0'",
    "ep_addr='10.77.0.50/24'",
    "ep_aoe_if='eth1'",
    "ep_aoe_wait='e1.0 e7.3'",
    "ep_aoe_params='aoe_deadsecs=10'",
  ]) {
    assert.ok(config.includes(`${line}\n`), `${line} in:\n${config}`);
  }
  assert.equal(fileOf(options, "ep/nics"), "eth1 02:00:00:00:00:02 1500 10.78.0.50/24\n");
});

void test("each boot gets its own taps and MACs", () => {
  const a = planBoot({ network: { bridgeNs: lan, bridge: "br0" } }, script).network?.nics[0];
  const b = planBoot({ network: { bridgeNs: lan, bridge: "br0" } }, script).network?.nics[0];
  assert.notEqual(a?.tap, b?.tap);
  assert.notEqual(a?.mac, b?.mac);
});

void test("aoe defaults to the guest bridge, else eth0", () => {
  const net = { bridgeNs: lan, bridge: "br0" };
  assert.match(fileOf({ network: net, aoe: true }, "ep/config"), /^ep_aoe_if='eth0'$/m);
  assert.match(
    fileOf({ network: { ...net, guestBridge: "xenbr0" }, aoe: true }, "ep/config"),
    /^ep_aoe_if='xenbr0'$/m,
  );
});

void test("copies: node at /usr/local/bin/node, the project at its own path; shares as 9p", () => {
  const options: XenHostCommonOptions = {
    node: true,
    project: true,
    copies: [{ hostPath: "/var/cache/thing", mountPoint: "/opt/thing" }],
    shares: [{ hostPath: "/srv/out", readOnly: false }, { hostPath: "/srv/in" }],
  };
  const plan = planBoot(options, script);
  assert.deepEqual(plan.copies, [
    { source: { kind: "path", hostPath: "/var/cache/thing" }, mountPoint: "/opt/thing" },
    {
      source: { kind: "path", hostPath: realpathSync(process.execPath) },
      mountPoint: dom0NodePath,
    },
    { source: { kind: "project", root: repoRoot }, mountPoint: dom0ProjectRoot },
  ]);
  assert.equal(fileOf(options, "ep/shares"), "ep0 /srv/out rw none\nep1 /srv/in ro loose\n");
  assert.deepEqual(plan.deviceArgs, [
    ...["-fsdev", "local,id=ep0,path=/srv/out,security_model=none"],
    ...["-device", "virtio-9p-pci,fsdev=ep0,mount_tag=ep0"],
    ...["-fsdev", "local,id=ep1,path=/srv/in,security_model=none,readonly=on"],
    ...["-device", "virtio-9p-pci,fsdev=ep1,mount_tag=ep1"],
  ]);
});

void test("refused before anything is made", () => {
  const net = { bridgeNs: lan, bridge: "br0" };
  const cases: [XenHostCommonOptions, RegExp][] = [
    [{ memoryMiB: 512 }, /memoryMiB/],
    [{ dom0MemMiB: 2000 }, /dom0MemMiB/],
    [{ cpus: 2, dom0Vcpus: 3 }, /dom0Vcpus/],
    [{ aoe: true }, /aoe needs network/],
    [{ network: net, aoe: { interface: "eth3" } }, /aoe interface eth3/],
    [{ network: net, aoe: { waitFor: ["e1"] } }, /AoE device e1 /],
    [{ network: net, aoe: { params: { aoe_iflist: "eth9" } } }, /aoe parameter/],
    [{ network: { ...net, bridge: "bad name" } }, /bridge/],
    [{ network: { ...net, mac: "01:00:5e:00:00:01" } }, /unicast/],
    [{ network: { ...net, mtu: 65536 } }, /mtu/],
    [{ network: { ...net, address: "10.77.0.300/24" } }, /address/],
    [{ network: { ...net, guestBridge: "eth1" } }, /names a NIC/],
    [
      {
        network: {
          ...net,
          moreNics: [{ bridge: "a" }, { bridge: "b" }, { bridge: "c" }, { bridge: "d" }],
        },
      },
      /more NICs/,
    ],
    [
      {
        network: {
          ...net,
          mac: "02:00:00:00:00:01",
          moreNics: [{ bridge: "san", mac: "02:00:00:00:00:01" }],
        },
      },
      /share a MAC/,
    ],
    [{ shares: [{ hostPath: "/srv", mountPoint: "/usr" }] }, /hide dom0's \/usr/],
    [{ shares: [{ hostPath: "/srv", mountPoint: "/usr/lib/xen" }] }, /hide dom0's \/usr/],
    [{ copies: [{ hostPath: "/srv", mountPoint: "/" }] }, /hide dom0's \//],
    [{ copies: [{ hostPath: "/srv", mountPoint: "/etc/x" }] }, /hide dom0's \/etc/],
    [{ copies: [{ hostPath: "/srv", mountPoint: "/opt/../etc" }] }, /not an absolute path/],
    [{ copies: [{ hostPath: "/a,b" }] }, /not an absolute path/],
    [
      {
        copies: [{ hostPath: "/srv/a", mountPoint: "/opt/x" }],
        shares: [{ hostPath: "/srv/b", mountPoint: "/opt/x" }],
      },
      /two mounts on \/opt\/x/,
    ],
    [{ node: true, copies: [{ hostPath: "/srv/node", mountPoint: dom0NodePath }] }, /two mounts/],
    [{ files: [{ path: "etc/passwd", content: "" }] }, /not under ep\//],
    [{ files: [{ path: "ep/config", content: "" }] }, /the lab's own/],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => planBoot(options, script), message, JSON.stringify(options));
  }
});
