/**
 * Records for tests, one builder per type: the fields a test does not care about get plain
 * defaults, the ones it names are given. One place to add a field when a record grows one.
 */
import type { ObservedDomain } from "../agent-protocol.js";
import type { DomainObserved, DomainRecord, HostRecord, VolumeRecord } from "../model.js";

/** A host that never reported (no inventory, never seen), a compute host unless told. */
export function hostRecord(fields: Pick<HostRecord, "id"> & Partial<HostRecord>): HostRecord {
  return {
    ...{ name: fields.id, roles: ["compute"], exportInterfaces: [], inventory: null },
    ...{ lastSeenMs: null, maintenance: null, createdMs: 1 },
    ...fields,
  };
}

/** A ready, exported volume (slot 0, 1 MiB unless told) that no domain holds. */
export function volumeRecord(
  fields: Pick<VolumeRecord, "id" | "name" | "poolId" | "hostId" | "shelf"> & Partial<VolumeRecord>,
): VolumeRecord {
  return {
    ...{ kind: "volume", sizeBytes: 2 ** 20, allocatedBytes: 0, sourceId: null, slot: 0 },
    ...{ exported: true, allow: [], state: "ready", error: null, generation: 1 },
    ...{ allowEveryone: false, grants: [], appliedGeneration: 0, createdMs: 1, updatedMs: 1 },
    ...fields,
  };
}

/** A stopped domain "d1" (256 MiB, 1 vcpu, no disk, no vif) never started. */
export function domainRecord(fields: Partial<DomainRecord> = {}): DomainRecord {
  return {
    ...{ id: "dom-1", name: "d1", uuid: "6a0c2d4e-9b1f-4c3a-8e2d-1f0a9b8c7d6e" },
    ...{ config: 'name = "d1"\nmemory = 256\n', memoryMiB: 256, vcpus: 1, disks: [], vifs: [] },
    ...{ onPoweroff: "destroy", onReboot: "restart", onCrash: "destroy", allowedUnsafe: [] },
    ...{ antiAffinity: null, pinHosts: [], hostId: null, placed: null },
    ...{ desiredState: "stopped", stopMode: "shutdown", shutdownTimeoutS: 60, rebootSeq: 0 },
    ...{ observed: null, ha: null, haPriority: 0, generation: 1, createdMs: 1, updatedMs: 1 },
    ...fields,
  };
}

/** What an agent reports of a guest: running as domid 7, 128 MiB, 1 vcpu, at 0 ms. */
export function domainObserved(fields: Partial<DomainObserved> = {}): DomainObserved {
  return {
    ...{ state: "running", domid: 7, flags: "-b----", memoryMiB: 128, vcpus: 1, cpuTimeS: 0 },
    ...{ appliedGeneration: 1, appliedRebootSeq: 0, lastExit: null, restarts: 0, error: null },
    atMs: 0,
    ...fields,
  };
}

/** A guest "dom-1" in an agent's status (domainObserved's defaults). */
export function observedDomain(fields: Partial<ObservedDomain> = {}): ObservedDomain {
  return { id: "dom-1", ...domainObserved(fields) };
}
