/**
 * Makes a storage host match its desired state: volumes made, grown, cloned or removed in their
 * pools, and the AoE target's exports applied live (one `apply`, so unchanged exports are not
 * disturbed). Every step is idempotent: after a crash, the next pass picks up where it stopped.
 * Order matters for safety: an export is withdrawn before its volume is removed.
 */
import { EtherplaneError, errorMessage } from "../../foundation/errors.js";
import type { Logger } from "../../foundation/log.js";
import type { AoeTarget } from "../../aoe/target/aoe-target.js";
import type { ExportConfig, TargetConfig } from "../../aoe/target/config.js";
import type { StoragePool } from "../../storage/pool/storage-pool.js";
import type {
  DesiredPool,
  DesiredState,
  DesiredVolume,
  ObservedPool,
  ObservedVolume,
} from "../agent-protocol.js";

export interface ReconcileResult {
  volumes: ObservedVolume[];
  pools: ObservedPool[];
}

export type ProgressReport = (volumeId: string, doneBytes: number, totalBytes: number) => void;

/**
 * The MAC mask list an exported volume is served with, or undefined when it must not be served
 * at all. An empty AoE mask list lets everyone in (AoEr11 3.3), so a volume open to nobody is not
 * exported: the target never answers for it, also after a restart (it serves only what it is
 * handed here).
 */
export function exportMask(volume: DesiredVolume): string[] | undefined {
  if (!volume.exported) return undefined;
  if (volume.allowEveryone) return [];
  return volume.allow.length > 0 ? volume.allow : undefined;
}

/**
 * What the reconciler needs of the AoE target (a recording fake in fast tests): `stats`, when
 * there, gives each export's byte counters for the volume's report (the web UI's throughput).
 */
export type ExportTarget = Pick<AoeTarget, "apply"> & Partial<Pick<AoeTarget, "stats">>;

export class StorageReconciler {
  private readonly pools = new Map<string, StoragePool>();
  private readonly cleaned = new Set<string>();

  constructor(
    private readonly openPool: (pool: DesiredPool) => Promise<StoragePool>,
    private readonly target: ExportTarget,
    private readonly stateDir: string,
    private readonly bufferCount: number,
    private readonly log: Logger,
  ) {}

  private async pool(desired: DesiredPool): Promise<StoragePool> {
    let pool = this.pools.get(desired.id);
    if (!pool) {
      pool = await this.openPool(desired);
      this.pools.set(desired.id, pool);
    }
    if (!this.cleaned.has(desired.id)) {
      await pool.cleanup(); // what an interrupted create or clone left behind
      this.cleaned.add(desired.id);
    }
    return pool;
  }

  async reconcile(desired: DesiredState, progress: ProgressReport): Promise<ReconcileResult> {
    const observedPools: ObservedPool[] = [];
    const poolById = new Map<string, StoragePool>();
    for (const desiredPool of desired.pools) {
      try {
        const pool = await this.pool(desiredPool);
        poolById.set(desiredPool.id, pool);
        const capacity = await pool.capacity();
        observedPools.push({
          id: desiredPool.id,
          capacityBytes: capacity.totalBytes,
          freeBytes: capacity.freeBytes,
          error: null,
        });
      } catch (error) {
        this.log.error(`pool ${desiredPool.name} is unusable`, { error: errorMessage(error) });
        observedPools.push({
          id: desiredPool.id,
          capacityBytes: 0,
          freeBytes: 0,
          error: errorMessage(error),
        });
      }
    }

    // 1. Make or grow what should exist. A clone's source is already there: the controller
    //    records a clone only once its source is ready.
    const results = new Map<string, ObservedVolume>();
    const exports: ExportConfig[] = [];
    for (const volume of desired.volumes) {
      const pool = poolById.get(volume.poolId);
      if (!pool) {
        results.set(
          volume.id,
          this.observed(volume, false, null, null, "its pool is unusable on this host"),
        );
        continue;
      }
      if (volume.state === "deleting") continue;
      try {
        const made = await this.ensure(pool, volume, progress);
        const mask = exportMask(volume);
        if (mask && desired.exportInterfaces.length === 0) {
          throw new EtherplaneError(
            "UNAVAILABLE",
            "this host has no AoE interface to export on; give the agent (or etherplane up) --aoe-iface IF",
          );
        }
        if (mask) {
          exports.push({
            shelf: volume.shelf,
            slot: volume.slot,
            path: made.path,
            interfaces: desired.exportInterfaces,
            readOnly: volume.kind === "snapshot",
            durable: false,
            macMask: mask,
            // The reservation this host wants (none: fencing does not set one yet), given on
            // every pass, so one that an allowed initiator forced over the wire is cleared.
            reservation: [],
            // Nobody edits them over the wire meanwhile: the controller decides who sees a volume.
            accessLocked: true,
            serial: volume.id.slice(-20),
            model: `etherplane ${volume.name}`.slice(0, 40),
            sizeBytes: made.sizeBytes,
            volumeId: volume.id,
          });
        }
        results.set(volume.id, {
          ...this.observed(volume, true, made.sizeBytes, made.allocatedBytes, null),
          appliedGeneration: volume.generation,
        });
      } catch (error) {
        this.log.error(`volume ${volume.name}: ${errorMessage(error)}`);
        results.set(
          volume.id,
          this.observed(
            volume,
            Boolean(await pool.get(volume.id).catch(() => undefined)),
            null,
            null,
            errorMessage(error),
          ),
        );
      }
    }

    // 2. Exports: one atomic apply (removed and changed exports drain their in-flight I/O).
    const config: TargetConfig = {
      stateDir: this.stateDir,
      bufferCount: this.bufferCount,
      exports: desired.exportInterfaces.length > 0 ? exports : [],
    };
    try {
      await this.target.apply(config);
    } catch (error) {
      const message = `cannot export: ${errorMessage(error)}`;
      this.log.error(message);
      for (const volume of desired.volumes) {
        const seen = results.get(volume.id);
        if (seen && volume.exported)
          results.set(volume.id, { ...seen, appliedGeneration: 0, error: message });
      }
    }

    // The exports' byte counters since the target started (the controller charts their rate).
    const counters = new Map(
      (this.target.stats?.().exports ?? []).map((e) => [e.address, e.counters] as const),
    );
    for (const volume of desired.volumes) {
      const seen = results.get(volume.id);
      const io = counters.get(`${volume.shelf}.${volume.slot}`);
      if (seen && io)
        results.set(volume.id, {
          ...seen,
          io: { readBytes: io.readBytes, writtenBytes: io.writtenBytes },
        });
    }

    // 3. Remove what should go (its export is already withdrawn).
    for (const volume of desired.volumes) {
      if (volume.state !== "deleting") continue;
      const pool = poolById.get(volume.poolId);
      if (!pool) continue;
      try {
        await pool.remove(volume.id);
        results.set(volume.id, this.observed(volume, false, null, null, null));
      } catch (error) {
        results.set(
          volume.id,
          this.observed(volume, true, null, null, `cannot remove: ${errorMessage(error)}`),
        );
      }
    }
    return { volumes: [...results.values()], pools: observedPools };
  }

  private async ensure(pool: StoragePool, volume: DesiredVolume, progress: ProgressReport) {
    let made = await pool.get(volume.id);
    if (!made) {
      if (volume.sourceId) {
        made = await pool.clone(volume.sourceId, volume.id, (done, total) =>
          progress(volume.id, done, total),
        );
      } else {
        made = await pool.create(volume.id, volume.sizeBytes);
      }
    }
    if (made.sizeBytes < volume.sizeBytes) made = await pool.resize(volume.id, volume.sizeBytes);
    return made;
  }

  private observed(
    volume: DesiredVolume,
    present: boolean,
    sizeBytes: number | null,
    allocatedBytes: number | null,
    error: string | null,
  ): ObservedVolume {
    return {
      id: volume.id,
      present,
      sizeBytes,
      allocatedBytes,
      appliedGeneration: 0,
      error,
      progress: null,
    };
  }
}
