/** Who may reach a volume: the pure rules (volume-access.ts) and what the storage agent exports. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { exportMask } from "../agent/reconciler.js";
import type { DesiredVolume } from "../agent-protocol.js";
import type { HostRecord, VolumeRecord } from "../model.js";
import {
  HOST_SAN_MACS_MAX,
  describeAccess,
  grantApplied,
  hostSanMacs,
  volumeMask,
  withGrant,
  withoutGrant,
} from "./volume-access.js";

const A = "52:54:00:00:00:0a";
const B = "52:54:00:00:00:0b";
const ADMIN = "00:16:3e:00:00:13";

function volume(overrides: Partial<VolumeRecord> = {}): VolumeRecord {
  return {
    ...{ id: "vol-1", name: "web", kind: "volume", poolId: "pool-1", hostId: "host-s" },
    ...{ sizeBytes: 2 ** 30, allocatedBytes: 0, sourceId: null, shelf: 1, slot: 0 },
    ...{ exported: true, allow: [], allowEveryone: false, grants: [], appliedGeneration: 0 },
    ...{ state: "ready", error: null, generation: 4, createdMs: 1, updatedMs: 1 },
    ...overrides,
  };
}

function host(interfaces: Array<[string, string]>, sanInterfaces?: string[]): HostRecord {
  return {
    ...{ id: "host-c", name: "c1", roles: ["compute"], exportInterfaces: [] },
    inventory: {
      hostname: "c1",
      agentVersion: "test",
      interfaces: interfaces.map(([ifname, mac]) => ({ ifname, mac, mtu: 1500, up: true })),
      ...(sanInterfaces ? { sanInterfaces } : {}),
    },
    ...{ lastSeenMs: 1, maintenance: null, createdMs: 1 },
  };
}

const desired = (v: VolumeRecord): DesiredVolume => {
  const mask = volumeMask(v);
  return { ...v, allow: mask.everyone ? [] : mask.macs, allowEveryone: mask.everyone };
};

test("a new volume is closed: no MAC in its mask, shown as nobody, and not exported at all", () => {
  const v = volume();
  assert.deepEqual(volumeMask(v), { everyone: false, macs: [] });
  assert.equal(describeAccess(v), "nobody");
  // An empty AoE mask list would let everyone in (AoEr11 3.3): nobody is no export.
  assert.equal(exportMask(desired(v)), undefined);
  assert.equal(describeAccess({ ...v, exported: false }), "not exported");
});

test("the mask is the admin's MACs plus the granted hosts', once each", () => {
  const v = volume({
    allow: [ADMIN, A],
    grants: [
      { domainId: "dom-1", hostId: "host-c", macs: [A, B], generation: 3 },
      { domainId: "dom-2", hostId: "host-d", macs: [B], generation: 4 },
    ],
  });
  assert.deepEqual(volumeMask(v), { everyone: false, macs: [ADMIN, A, B] });
  assert.deepEqual(exportMask(desired(v)), [ADMIN, A, B]);
  assert.equal(describeAccess(v), `${ADMIN},${A},${B}`);
});

test("open to everyone: an empty mask on the wire; not exported still wins", () => {
  const v = volume({ allowEveryone: true, allow: [ADMIN] });
  assert.deepEqual(volumeMask(v), { everyone: true });
  assert.deepEqual(exportMask(desired(v)), []);
  assert.equal(describeAccess(v), "everyone");
  assert.equal(exportMask(desired({ ...v, exported: false })), undefined);
});

test("a grant carries the next generation, replaces the domain's grant elsewhere, and is taken back", () => {
  const v = volume({ grants: [{ domainId: "dom-1", hostId: "host-x", macs: [B], generation: 2 }] });
  const grants = withGrant(v, { domainId: "dom-1", hostId: "host-c", macs: [A] });
  assert.deepEqual(grants, [{ domainId: "dom-1", hostId: "host-c", macs: [A], generation: 5 }]);
  const granted = { ...v, grants, generation: 5 };
  assert.equal(grantApplied(granted, "dom-1", "host-c"), false, "not applied yet");
  assert.equal(grantApplied({ ...granted, appliedGeneration: 4 }, "dom-1", "host-c"), false);
  assert.equal(grantApplied({ ...granted, appliedGeneration: 5 }, "dom-1", "host-c"), true);
  assert.equal(grantApplied({ ...granted, appliedGeneration: 9 }, "dom-1", "host-x"), false);
  assert.equal(grantApplied({ ...granted, appliedGeneration: 9 }, "dom-2", "host-c"), false);
  assert.deepEqual(withoutGrant(granted, "dom-1"), []);
  assert.deepEqual(withoutGrant(granted, "dom-2"), grants, "another domain's is kept");
});

test("a grant that would overflow an AoE mask list (128 MACs) is refused with what to do", () => {
  const many = Array.from(
    { length: 128 },
    (_, i) => `02:00:00:00:00:${i.toString(16).padStart(2, "0")}`,
  );
  assert.throws(
    () => withGrant(volume({ allow: many }), { domainId: "d", hostId: "h", macs: [A] }),
    (error: unknown) =>
      isEtherplaneError(error, "CONFLICT") && /volume deny web/.test(error.message),
  );
  // Open to everyone, the list does not matter.
  withGrant(volume({ allow: many, allowEveryone: true }), {
    domainId: "d",
    hostId: "h",
    macs: [A],
  });
});

test("a host's SAN MACs: its named SAN interfaces, else all it reported; never 00:00..., bounded", () => {
  const both: Array<[string, string]> = [
    ["eth0", "52:54:00:00:00:AA"],
    ["san0", B],
    ["dummy", "00:00:00:00:00:00"],
  ];
  assert.deepEqual(hostSanMacs(host(both, ["san0"])), [B]);
  assert.deepEqual(hostSanMacs(host(both)), ["52:54:00:00:00:aa", B]);
  const lots = Array.from({ length: 40 }, (_, i): [string, string] => [
    `tap${i}`,
    `fe:00:00:00:00:${i.toString(16).padStart(2, "0")}`,
  ]);
  assert.equal(hostSanMacs(host(lots)).length, HOST_SAN_MACS_MAX);
  assert.throws(
    () => hostSanMacs({ ...host([]), inventory: null }),
    (error: unknown) =>
      isEtherplaneError(error, "UNAVAILABLE") && /--san-iface/.test(error.message),
  );
  assert.throws(() => hostSanMacs(host(both, ["san9"])), /has not reported/);
});
