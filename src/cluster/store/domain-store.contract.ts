/**
 * The Store contract for networks and domains (the rest is store.contract.ts): one shared test,
 * run against every Store implementation. A domain's MACs are unique in the whole cluster, its
 * name and uuid too; a refused write changes nothing.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isEtherplaneError, type ErrorCode } from "../../foundation/errors.js";
import { newId } from "../../foundation/ids.js";
import type {
  DomainObserved,
  DomainPlacedSpec,
  DomainRecord,
  HostRecord,
  NetworkRecord,
} from "../model.js";
import { domainRecord, hostRecord } from "../testing/records.js";
import type { Store } from "./store.js";

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, message?: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isEtherplaneError(error, code), `expected ${code}, got ${String(error)}`);
    if (message) assert.match(error.message, message);
    return true;
  });
}

function host(): HostRecord {
  const id = newId("host");
  return hostRecord({ id, name: `node-${id}` });
}

let macCount = 0;
function mac(): string {
  macCount++;
  return `00:16:3e:00:${(macCount >> 8).toString(16).padStart(2, "0")}:${(macCount & 0xff).toString(16).padStart(2, "0")}`;
}

function domain(hostId: string | null, overrides: Partial<DomainRecord> = {}): DomainRecord {
  const id = newId("dom");
  return domainRecord({
    id,
    name: `dom-${id}`,
    uuid: crypto.randomUUID(),
    config: `name = "dom-${id}"\nmemory = 256\n# a comment, kept\nfrobnicate = [ 1, 'x' ]\n`,
    vcpus: 2,
    disks: [
      { vdev: "xvda", target: "/dev/etherd/e1.0", readOnly: false, volumeId: "vol-1" },
      { vdev: "hdc", target: "/srv/iso/debian.iso", readOnly: true, volumeId: null },
    ],
    vifs: [{ mac: mac(), bridge: "xenbr1" }],
    onCrash: "preserve",
    // An admin's allowance (the domain policy), so the column round-trips a real list.
    allowedUnsafe: ["pci", "vif"],
    // Placement settings, so their columns round-trip real values.
    antiAffinity: "web",
    pinHosts: ["host-a", "host-b"],
    hostId,
    createdMs: 1_700_000_000_000,
    updatedMs: 1_700_000_000_000,
    ...overrides,
  });
}

const observed: DomainObserved = {
  state: "running",
  domid: 7,
  flags: "-b----",
  memoryMiB: 256,
  vcpus: 2,
  cpuTimeS: 12.5,
  appliedGeneration: 3,
  appliedRebootSeq: 1,
  lastExit: { reason: "crash", action: "restart", atMs: 1_700_000_000_500 },
  restarts: 1,
  error: null,
  atMs: 1_700_000_000_600,
};

export function domainStoreContract(name: string, open: () => Promise<Store>): void {
  function storeTest(title: string, body: (store: Store) => Promise<void>): void {
    test(title, async () => {
      const store = await open();
      try {
        await body(store);
      } finally {
        await store.close();
      }
    });
  }

  describe(`Store contract, networks and domains: ${name}`, () => {
    storeTest("networks round-trip; name and bridge are unique per host", async (s) => {
      const h1 = host();
      const h2 = host();
      await s.createHost(h1);
      await s.createHost(h2);
      const plain: NetworkRecord = {
        ...{ id: newId("net"), name: "lan", hostId: h1.id, bridge: "xenbr0", uplink: null },
        ...{ vlanId: null, error: null, createdMs: 5 },
      };
      const tagged: NetworkRecord = {
        ...plain,
        ...{ id: newId("net"), name: "dmz", bridge: "xenbr1", uplink: "eth1", vlanId: 10 },
      };
      await s.createNetwork(plain);
      await s.createNetwork(tagged);
      // The same name and bridge on another host are fine.
      await s.createNetwork({ ...plain, id: newId("net"), hostId: h2.id });
      assert.deepEqual(await s.getNetwork(tagged.id), tagged);
      assert.deepEqual(
        (await s.listNetworks({ hostId: h1.id })).map((n) => n.name),
        ["dmz", "lan"],
      );
      await rejectsWith(
        s.createNetwork({ ...plain, id: newId("net"), bridge: "xenbr9" }),
        "CONFLICT",
        /"lan"/,
      );
      await rejectsWith(
        s.createNetwork({ ...plain, id: newId("net"), name: "other" }),
        "CONFLICT",
        /xenbr0/,
      );
      await rejectsWith(
        s.createNetwork({ ...plain, id: newId("net"), hostId: "host-missing" }),
        "NOT_FOUND",
      );
      const updated = await s.updateNetwork(tagged.id, { error: "no 8021q" });
      assert.equal(updated.error, "no 8021q");
      await s.deleteNetwork(plain.id);
      assert.equal(await s.getNetwork(plain.id), undefined);
      assert.equal((await s.listNetworks()).length, 2);
    });

    storeTest("domains round-trip every field; found by id and name; listed by name", async (s) => {
      const h = host();
      await s.createHost(h);
      const a = domain(h.id, { name: "b-web" });
      const b = domain(null, { name: "a-mail", observed, vifs: [] });
      await s.createDomain(a);
      await s.createDomain(b);
      assert.deepEqual(await s.getDomain(a.id), a);
      assert.deepEqual(await s.findDomainByName("a-mail"), b);
      assert.deepEqual(await s.listDomains(), [b, a]);
      assert.deepEqual(await s.listDomains({ hostId: h.id }), [a]);
      assert.equal(await s.getDomain("dom-missing"), undefined);
      assert.deepEqual(await s.usedMacs(), a.vifs.map((v) => v.mac).sort());
    });

    storeTest("a taken name, uuid or MAC is CONFLICT and changes nothing", async (s) => {
      const first = domain(null, { name: "web" });
      await s.createDomain(first);
      const firstMac = first.vifs[0]?.mac ?? "";
      await rejectsWith(s.createDomain(domain(null, { name: "web" })), "CONFLICT", /"web"/);
      await rejectsWith(s.createDomain(domain(null, { uuid: first.uuid })), "CONFLICT", /uuid/);
      const clash = domain(null, {
        name: "mail",
        vifs: [
          { mac: mac(), bridge: "xenbr0" },
          { mac: firstMac, bridge: "xenbr1" },
        ],
      });
      await rejectsWith(s.createDomain(clash), "CONFLICT", new RegExp(`${firstMac}.*"web"`));
      // Nothing of the refused domain stays: not the record, not its first MAC.
      assert.equal(await s.findDomainByName("mail"), undefined);
      assert.deepEqual(await s.usedMacs(), [firstMac]);
      await rejectsWith(s.createDomain(domain("host-missing")), "NOT_FOUND", /host-missing/);
    });

    storeTest("updates bump the generation, check it when asked, and move MACs", async (s) => {
      const a = domain(null, { name: "a" });
      const b = domain(null, { name: "b" });
      await s.createDomain(a);
      await s.createDomain(b);
      const newMac = mac();
      const updated = await s.updateDomain(
        a.id,
        { desiredState: "running", vifs: [{ mac: newMac, bridge: "xenbr0" }] },
        1,
      );
      assert.equal(updated.generation, 2);
      assert.equal(updated.desiredState, "running");
      assert.ok(updated.updatedMs >= a.updatedMs);
      // a's old MAC is free again, the new one is a's.
      const used = await s.usedMacs();
      assert.ok(used.includes(newMac) && !used.includes(a.vifs[0]?.mac ?? ""));
      await rejectsWith(s.updateDomain(a.id, { rebootSeq: 1 }, 1), "CONFLICT", /generation 2/);
      await rejectsWith(
        s.updateDomain(b.id, { vifs: [{ mac: newMac, bridge: "x" }] }),
        "CONFLICT",
        /taken by domain "a"/,
      );
      assert.deepEqual(await s.getDomain(b.id), b);
      await rejectsWith(s.updateDomain(b.id, { name: "a" }), "CONFLICT", /"a"/);
      await rejectsWith(s.updateDomain("dom-missing", { rebootSeq: 1 }), "NOT_FOUND");
    });

    storeTest("HA settings round-trip: on, off, by policy (null), and a priority", async (s) => {
      const a = domain(null);
      await s.createDomain(a);
      assert.equal((await s.updateDomain(a.id, { ha: true, haPriority: -7 })).ha, true);
      assert.equal((await s.getDomain(a.id))?.haPriority, -7);
      assert.equal((await s.updateDomain(a.id, { ha: false })).ha, false);
      assert.equal((await s.updateDomain(a.id, { ha: null })).ha, null);
      assert.equal((await s.getDomain(a.id))?.haPriority, -7, "left alone by other patches");
    });

    storeTest("a placed spec is kept as written, and a file edit leaves it alone", async (s) => {
      const a = domain(null);
      await s.createDomain(a);
      const placed: DomainPlacedSpec = {
        ...{ name: a.name, uuid: a.uuid, config: a.config, memoryMiB: 256, vcpus: 2 },
        boot: { kind: "kernel", kernel: "/boot/vmlinuz", ramdisk: "/boot/initrd", cmdline: "ro" },
        disks: [{ vdev: "xvda", readOnly: false, volumeId: "vol-1", shelf: 1, slot: 0 }],
        vifs: a.vifs,
        allowedUnsafe: ["pci"],
        ...{ onPoweroff: "destroy", onReboot: "restart", onCrash: "preserve", placedMs: 5 },
      };
      assert.deepEqual((await s.updateDomain(a.id, { placed })).placed, placed);
      const edited = await s.updateDomain(a.id, { config: `name = "${a.name}"\nmemory = 512\n` });
      assert.deepEqual(edited.placed, placed);
      assert.deepEqual((await s.getDomain(a.id))?.placed, placed);
    });

    storeTest("observations keep the generation; delete frees the name and MACs", async (s) => {
      const a = domain(null);
      await s.createDomain(a);
      const seen = await s.observeDomain(a.id, observed);
      assert.deepEqual(seen.observed, observed);
      assert.equal(seen.generation, a.generation);
      assert.equal((await s.observeDomain(a.id, null)).observed, null);
      await s.deleteDomain(a.id);
      assert.equal(await s.getDomain(a.id), undefined);
      assert.deepEqual(await s.usedMacs(), []);
      await s.createDomain({ ...domain(null), name: a.name, vifs: a.vifs });
    });
  });
}
