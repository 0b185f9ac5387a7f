/**
 * Volumes as the API and CLI see them: each change is recorded in the store as the desired state
 * (with a task), and the storage host's agent makes it so and reports back (agent-service.ts).
 */
import { EtherplaneError } from "../../foundation/errors.js";
import { newId } from "../../foundation/ids.js";
import { macToString, parseMac } from "../../aoe/codec/index.js";
import type { PoolRecord, TaskRecord, VolumeRecord } from "../model.js";
import type { Store, VolumeFilter } from "../store/store.js";
import {
  allocateAddress,
  checkAddressFree,
  parseAoeAddress,
  type AoeAddress,
} from "./address-allocator.js";
import type { TaskService } from "./task-service.js";
import { volumeMask } from "./volume-access.js";
import { MASK_MACS_MAX } from "../../aoe/target/config.js";

export const VOLUME_BYTES_MIN = 1024 * 1024;
export const VOLUME_BYTES_MAX = 2 ** 50; // 1 PiB
const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export interface CreateVolumeSpec {
  name: string;
  sizeBytes: number;
  /** Pool name or id; default: the pool with the most free space. */
  pool?: string;
  /** `S.L`; default: the first free address. */
  address?: string;
  exported?: boolean;
  /** MACs allowed to see it; none (the default) = nobody until a domain using it starts. */
  allow?: string[];
}

function invalid(field: string, message: string): EtherplaneError {
  return new EtherplaneError("INVALID_ARGUMENT", `${field}: ${message}`, { params: { field } });
}

function checkName(name: string, field = "name"): void {
  if (!NAME_PATTERN.test(name)) {
    throw invalid(
      field,
      `"${name}" is not a volume name; use 1-63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit`,
    );
  }
}

function checkSize(sizeBytes: number, field = "sizeBytes"): void {
  if (
    !Number.isSafeInteger(sizeBytes) ||
    sizeBytes < VOLUME_BYTES_MIN ||
    sizeBytes > VOLUME_BYTES_MAX ||
    sizeBytes % 512 !== 0
  ) {
    throw invalid(
      field,
      `${sizeBytes} is not a volume size; give a multiple of 512 bytes from 1 MiB to 1 PiB (e.g. 20G)`,
    );
  }
}

function normaliseMacs(list: readonly string[], field = "allow"): string[] {
  return list.map((text, i) => {
    const mac = parseMac(text);
    if (!mac || ((mac[0] as number) & 1) !== 0)
      throw invalid(
        `${field}[${i}]`,
        `"${text}" is not a unicast MAC address; write it as 00:16:3e:00:00:13`,
      );
    return macToString(mac);
  });
}

/** A thin pool may promise more than it holds; say so when a change makes it so. */
async function overcommitWarning(
  store: Store,
  pool: PoolRecord,
  addedBytes: number,
): Promise<string[]> {
  if (pool.capacityBytes === null || pool.capacityBytes <= 0) return [];
  const provisioned = (await store.provisionedBytes(pool.id)) + addedBytes;
  if (provisioned <= pool.capacityBytes) return [];
  const gib = (n: number) => `${(n / 2 ** 30).toFixed(1)}G`;
  return [
    `pool ${pool.name} is overcommitted: ${gib(provisioned)} provisioned on ${gib(pool.capacityBytes)} (${Math.round((100 * provisioned) / pool.capacityBytes)}%); volumes are thin, so watch its free space (${pool.freeBytes === null ? "unknown" : gib(pool.freeBytes)} now)`,
  ];
}

export interface VolumeChange {
  volume: VolumeRecord;
  task: TaskRecord;
  /** Things the caller should know (e.g. an overcommitted pool); the change was made. */
  warnings: string[];
}

export class VolumeService {
  constructor(
    private readonly store: Store,
    private readonly tasks: TaskService,
    /** Addresses foreign targets answer on the wire, as the agents' discovery last saw them. */
    private readonly foreignAddresses: () => AoeAddress[] = () => [],
    private readonly now: () => number = Date.now,
  ) {}

  async get(ref: string): Promise<VolumeRecord> {
    const volume = (await this.store.getVolume(ref)) ?? (await this.store.findVolumeByName(ref));
    if (!volume)
      throw new EtherplaneError("NOT_FOUND", `no volume "${ref}"; see etherplane volume list`);
    return volume;
  }

  list(filter: { hostId?: string; poolId?: string } = {}): Promise<VolumeRecord[]> {
    return this.store.listVolumes(filter);
  }

  /** The same list as JSON text, for the API to send as it is (see Store.listVolumesJson). */
  listJson(filter: VolumeFilter = {}): Promise<string> {
    return this.store.listVolumesJson(filter);
  }

  private async pickPool(ref: string | undefined): Promise<PoolRecord> {
    const pools = await this.store.listPools();
    if (ref !== undefined) {
      const pool = pools.find((p) => p.id === ref || p.name === ref);
      if (!pool)
        throw new EtherplaneError("NOT_FOUND", `pool: no pool "${ref}"; see etherplane pool list`, {
          params: { field: "pool" },
        });
      return pool;
    }
    if (pools.length === 0)
      throw new EtherplaneError(
        "UNAVAILABLE",
        "no storage pool yet: add one with etherplane pool create, or start with etherplane up",
      );
    return [...pools].sort((a, b) => (b.freeBytes ?? 0) - (a.freeBytes ?? 0))[0] as PoolRecord;
  }

  private async address(wanted: string | undefined): Promise<AoeAddress> {
    const taken = await this.store.usedAddresses();
    if (wanted === undefined) {
      const foreign = this.foreignAddresses();
      return allocateAddress([...taken, ...foreign]);
    }
    const address = parseAoeAddress(wanted);
    checkAddressFree(address, taken, this.foreignAddresses());
    return address;
  }

  private async busy(volume: VolumeRecord): Promise<void> {
    const running = await this.tasks.runningFor(volume.id);
    if (running) {
      throw new EtherplaneError(
        "CONFLICT",
        `volume ${volume.name} is busy with task ${running.id} (${running.kind}); wait for it: etherplane task show ${running.id}`,
      );
    }
  }

  private async record(spec: {
    name: string;
    pool: PoolRecord;
    sizeBytes: number;
    kind: VolumeRecord["kind"];
    sourceId: string | null;
    address?: string;
    exported: boolean;
    allow: string[];
    allowEveryone: boolean;
  }): Promise<VolumeRecord> {
    const address = await this.address(spec.address);
    const time = this.now();
    const volume: VolumeRecord = {
      id: newId("vol"),
      name: spec.name,
      kind: spec.kind,
      poolId: spec.pool.id,
      hostId: spec.pool.hostId,
      sizeBytes: spec.sizeBytes,
      allocatedBytes: null,
      sourceId: spec.sourceId,
      shelf: address.shelf,
      slot: address.slot,
      exported: spec.exported,
      allow: spec.allow,
      allowEveryone: spec.allowEveryone,
      grants: [],
      appliedGeneration: 0,
      state: "creating",
      error: null,
      generation: 1,
      createdMs: time,
      updatedMs: time,
    };
    await this.store.createVolume(volume); // CONFLICT on a taken name or address
    return volume;
  }

  async create(spec: CreateVolumeSpec, actor: string): Promise<VolumeChange> {
    checkName(spec.name);
    checkSize(spec.sizeBytes);
    const allow = normaliseMacs(spec.allow ?? []);
    const pool = await this.pickPool(spec.pool);
    const volume = await this.record({
      name: spec.name,
      pool,
      sizeBytes: spec.sizeBytes,
      kind: "volume",
      sourceId: null,
      ...(spec.address !== undefined ? { address: spec.address } : {}),
      exported: spec.exported ?? true,
      allow,
      allowEveryone: false,
    });
    const task = await this.tasks.start(
      "volume.create",
      volume.id,
      actor,
      `creating ${volume.name}`,
    );
    return { volume, task, warnings: await overcommitWarning(this.store, pool, 0) };
  }

  /** A snapshot (read-only, not exported by default) or a clone (a full volume) of `sourceRef` as it is now. */
  async copy(
    kind: "snapshot" | "clone",
    sourceRef: string,
    name: string,
    actor: string,
    options: { address?: string; exported?: boolean } = {},
  ): Promise<VolumeChange> {
    checkName(name);
    const source = await this.get(sourceRef);
    if (source.state !== "ready")
      throw new EtherplaneError(
        "CONFLICT",
        `volume ${source.name} is ${source.state}; wait until it is ready`,
      );
    const pool = await this.store.getPool(source.poolId);
    if (!pool) throw new EtherplaneError("NOT_FOUND", `the pool of ${source.name} is gone`);
    const volume = await this.record({
      name,
      pool,
      sizeBytes: source.sizeBytes,
      kind: kind === "snapshot" ? "snapshot" : "volume",
      sourceId: source.id,
      ...(options.address !== undefined ? { address: options.address } : {}),
      exported: options.exported ?? kind === "clone",
      // The admin's word on who may see these bytes carries over; the source's grants do not.
      allow: [...source.allow],
      allowEveryone: source.allowEveryone,
    });
    const task = await this.tasks.start(
      `volume.${kind}`,
      volume.id,
      actor,
      `${kind === "snapshot" ? "snapshotting" : "cloning"} ${source.name} as ${name}`,
    );
    return { volume, task, warnings: await overcommitWarning(this.store, pool, 0) };
  }

  async resize(ref: string, sizeBytes: number, actor: string): Promise<VolumeChange> {
    checkSize(sizeBytes);
    const volume = await this.get(ref);
    await this.busy(volume);
    if (volume.kind === "snapshot")
      throw invalid(
        "name",
        `${volume.name} is a snapshot; snapshots keep their size (clone it to grow a copy)`,
      );
    if (sizeBytes < volume.sizeBytes)
      throw invalid("sizeBytes", `volumes only grow: ${volume.name} has ${volume.sizeBytes} bytes`);
    if (sizeBytes === volume.sizeBytes)
      throw invalid("sizeBytes", `${volume.name} already has ${sizeBytes} bytes`);
    const updated = await this.store.updateVolume(
      volume.id,
      { sizeBytes, state: "resizing" },
      volume.generation,
    );
    const task = await this.tasks.start(
      "volume.resize",
      volume.id,
      actor,
      `growing ${volume.name} to ${sizeBytes} bytes`,
    );
    const pool = await this.store.getPool(volume.poolId);
    return {
      volume: updated,
      task,
      warnings: pool ? await overcommitWarning(this.store, pool, 0) : [],
    };
  }

  async remove(ref: string, force: boolean, actor: string): Promise<VolumeChange> {
    const volume = await this.get(ref);
    // Even --force keeps a running guest's disk: destroying the guest is a separate decision.
    const user = (await this.store.listDomains()).find(
      (d) => d.desiredState !== "stopped" && d.disks.some((disk) => disk.volumeId === volume.id),
    );
    if (user)
      throw new EtherplaneError(
        "CONFLICT",
        `volume ${volume.name} is the disk of running domain ${user.name}; stop the domain first (etherplane shutdown ${user.name})`,
      );
    if (!force) {
      await this.busy(volume);
      if (volume.exported) {
        throw new EtherplaneError(
          "CONFLICT",
          `volume ${volume.name} is exported (in use as e${volume.shelf}.${volume.slot}); unexport it first, or delete with --force`,
        );
      }
    }
    // A forced delete supersedes whatever was running on the volume: end those tasks.
    for (
      let task = await this.tasks.runningFor(volume.id);
      task;
      task = await this.tasks.runningFor(volume.id)
    ) {
      await this.tasks.fail(
        task.id,
        "CONFLICT",
        `superseded: ${volume.name} was deleted with --force`,
      );
    }
    const updated = await this.store.updateVolume(volume.id, {
      state: "deleting",
      exported: false,
    });
    const task = await this.tasks.start(
      "volume.delete",
      volume.id,
      actor,
      `deleting ${volume.name}`,
    );
    return { volume: updated, task, warnings: [] };
  }

  /**
   * Export, unexport, allow and deny: applied live by the agent. `everyone` opens the volume to
   * every host on the SAN (true) or closes it again (false): an admin's act (checked by the API).
   */
  async change(
    ref: string,
    change: { exported?: boolean; allow?: string[]; deny?: string[]; everyone?: boolean },
    actor: string,
  ): Promise<VolumeChange> {
    const volume = await this.get(ref);
    await this.busy(volume);
    if (volume.state !== "ready")
      throw new EtherplaneError(
        "CONFLICT",
        `volume ${volume.name} is ${volume.state}; wait until it is ready`,
      );
    let allow = volume.allow;
    if (change.allow) allow = [...new Set([...allow, ...normaliseMacs(change.allow, "allow")])];
    if (change.deny) {
      const denied = new Set(normaliseMacs(change.deny, "deny"));
      allow = allow.filter((mac) => !denied.has(mac));
    }
    const exported = change.exported ?? volume.exported;
    const allowEveryone = change.everyone ?? volume.allowEveryone;
    const mask = volumeMask({ allow, allowEveryone, grants: volume.grants });
    if (!mask.everyone && mask.macs.length > MASK_MACS_MAX)
      throw invalid(
        "macs",
        `${volume.name} would allow ${mask.macs.length} MACs, more than an AoE mask list holds (${MASK_MACS_MAX}); allow fewer, or open it with --everyone`,
      );
    const updated = await this.store.updateVolume(
      volume.id,
      { exported, allow, allowEveryone, state: "ready" },
      volume.generation,
    );
    const what =
      change.exported === true
        ? "exporting"
        : change.exported === false
          ? "unexporting"
          : "changing access to";
    const task = await this.tasks.start(
      "volume.access",
      volume.id,
      actor,
      `${what} ${volume.name}`,
    );
    return { volume: updated, task, warnings: [] };
  }
}
