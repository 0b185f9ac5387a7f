/**
 * Fencing at the storage: a dead host's SAN MACs leave every volume it could reach (its grants,
 * and an admin's allow list through the fenced-MAC filter of the desired state, agent-service.ts),
 * each such volume gets a new generation, and the fence of a volume is confirmed once its storage
 * agent reports that generation applied (its target no longer answers those MACs). A volume open
 * to everyone cannot be fenced by a MAC mask: its domains are held, with the reason.
 */
import { EtherplaneError, isEtherplaneError } from "../../foundation/errors.js";
import type { HostRecord, VolumeRecord } from "../model.js";
import type { Store } from "../store/store.js";
import { hostSanMacs } from "./volume-access.js";

const UPDATE_TRIES_MAX = 5;

export interface StorageFence {
  hostId: string;
  requestedMs: number;
  /** The dead host's MACs, lower case. */
  macs: ReadonlySet<string>;
  /** Volume id -> the generation whose application by the storage agent confirms the fence. */
  volumes: Map<string, { generation: number; storageHostId: string; name: string }>;
  /** Volumes whose fence cannot be confirmed at all, with why. */
  unfenceable: Map<string, string>;
  /** Volumes confirmed so far. */
  confirmed: Set<string>;
}

/** Every MAC the host may reach the SAN from: the reported SAN MACs and those of its grants. */
export function fenceMacs(host: HostRecord, volumes: readonly VolumeRecord[]): Set<string> {
  const macs = new Set<string>();
  try {
    for (const mac of hostSanMacs(host)) macs.add(mac.toLowerCase());
  } catch {
    // Never reported its MACs: only its grants can name them.
  }
  for (const volume of volumes)
    for (const grant of volume.grants)
      if (grant.hostId === host.id) for (const mac of grant.macs) macs.add(mac.toLowerCase());
  return macs;
}

function reaches(volume: VolumeRecord, hostId: string, macs: ReadonlySet<string>): boolean {
  return (
    volume.grants.some((g) => g.hostId === hostId) ||
    volume.allow.some((mac) => macs.has(mac.toLowerCase()))
  );
}

/**
 * Starts fencing `host`: `addFencedMacs` first (from then on no desired state serves them), then
 * a new generation of every volume it could reach, without its grants.
 */
export async function requestFence(
  store: Store,
  host: HostRecord,
  addFencedMacs: (macs: ReadonlySet<string>) => void,
  nowMs: number,
): Promise<StorageFence> {
  const all = await store.listVolumes();
  const macs = fenceMacs(host, all);
  addFencedMacs(macs);
  const fence: StorageFence = {
    hostId: host.id,
    requestedMs: nowMs,
    macs,
    volumes: new Map(),
    unfenceable: new Map(),
    confirmed: new Set(),
  };
  for (const volume of all) {
    if (volume.allowEveryone) {
      // Only a domain's volumes hold its restart; anyone's volume open to all may be one.
      fence.unfenceable.set(
        volume.id,
        `volume ${volume.name} is open to every host on the SAN, so its target cannot shut ${host.name} out: ` +
          `etherplane volume deny ${volume.name} --everyone, then allow the hosts that need it`,
      );
      continue;
    }
    if (!reaches(volume, host.id, macs)) continue;
    const updated = await withoutHost(store, volume.id, host.id);
    if (updated)
      fence.volumes.set(updated.id, {
        generation: updated.generation,
        storageHostId: updated.hostId,
        name: updated.name,
      });
  }
  return fence;
}

/** The volume with a new generation and without the host's grants; undefined if it is gone. */
async function withoutHost(
  store: Store,
  id: string,
  hostId: string,
): Promise<VolumeRecord | undefined> {
  for (let tries = 1; ; tries++) {
    const volume = await store.getVolume(id);
    if (!volume) return undefined;
    try {
      return await store.updateVolume(
        id,
        { grants: volume.grants.filter((g) => g.hostId !== hostId) },
        volume.generation,
      );
    } catch (error) {
      if (!isEtherplaneError(error, "CONFLICT") || tries >= UPDATE_TRIES_MAX)
        throw new EtherplaneError(
          "CONFLICT",
          `volume ${volume.name} kept changing while it was being fenced; the next sweep retries`,
          { cause: error },
        );
    }
  }
}

/**
 * Marks the volumes whose storage agent has applied the fence generation; returns the storage
 * hosts newly confirmed in full (every one of their volumes in this fence).
 */
export async function checkFence(store: Store, fence: StorageFence): Promise<string[]> {
  const before = pendingStorageHosts(fence);
  for (const [id, want] of fence.volumes) {
    if (fence.confirmed.has(id)) continue;
    const volume = await store.getVolume(id);
    if (!volume || volume.appliedGeneration >= want.generation) fence.confirmed.add(id);
  }
  const after = pendingStorageHosts(fence);
  return [...before].filter((hostId) => !after.has(hostId));
}

function pendingStorageHosts(fence: StorageFence): Set<string> {
  const pending = new Set<string>();
  for (const [id, want] of fence.volumes)
    if (!fence.confirmed.has(id)) pending.add(want.storageHostId);
  return pending;
}

export function fenceComplete(fence: StorageFence): boolean {
  return fence.confirmed.size === fence.volumes.size;
}

/** Why a domain with these volumes cannot restart yet, or undefined when its disks are fenced. */
export function fenceHold(
  fence: StorageFence,
  volumeIds: readonly string[],
  storageHostName: (id: string) => string,
): string | undefined {
  for (const id of volumeIds) {
    const unfenceable = fence.unfenceable.get(id);
    if (unfenceable) return unfenceable;
    const want = fence.volumes.get(id);
    if (want && !fence.confirmed.has(id))
      return `waiting for storage host ${storageHostName(want.storageHostId)} to confirm that volume ${want.name} no longer answers the dead host`;
  }
  return undefined;
}
