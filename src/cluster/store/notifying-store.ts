/**
 * A Store that says when a write may have changed some host's desired state, and whose, so that
 * those agents' long-polls wake (controller/desired-watch.ts). Reports that only refresh
 * observations (a host's inventory, a pool's free bytes, a volume's allocation) do not wake
 * anyone: otherwise every report would wake agents, which is the load this exists to remove.
 *
 * Which hosts a write concerns, where that is cheap to know: a pool's or network's host; a
 * volume's storage host and the hosts granted it (grants.applied holds a domain's start until the
 * mask is served); a domain's host. Updates and deletes concern the record's hosts before and
 * after the write (a domain moved away must leave its old host's desired state). Any other write
 * concerns every host.
 */
import type { DomainRecord, VolumeRecord } from "../model.js";
import type { Store } from "./store.js";

/** The hosts a change concerns, or every host (as DesiredWatch.changed takes them). */
export type Concerned = readonly string[] | "all";

/** Writes that never reach a desired state. */
const SILENT = new Set<string>([
  "createTask",
  "updateTask",
  "createToken",
  "updateToken",
  "appendAudit",
  "pruneAudit",
  "appendEvent",
  "appendEvents",
  "observeHosts",
  "setSetting",
]);

/** For these, patches touching only the listed fields are observations only. */
const OBSERVATION_FIELDS: Record<string, ReadonlySet<string>> = {
  updateHost: new Set(["inventory", "lastSeenMs"]),
  updatePool: new Set(["capacityBytes", "freeBytes"]),
  observeVolume: new Set(["allocatedBytes"]),
};

function volumeHosts(volume: VolumeRecord | undefined): string[] {
  return volume ? [volume.hostId, ...volume.grants.map((g) => g.hostId)] : [];
}

function domainHosts(domain: DomainRecord | undefined): string[] {
  return domain?.hostId ? [domain.hostId] : [];
}

function hostOf(record: { hostId: string } | undefined): string[] {
  return record ? [record.hostId] : [];
}

interface Concern {
  /**
   * The hosts the record concerns before the write. Called right before the write and not
   * awaited in between: on SQLite both run synchronously, so no other write comes between them.
   */
  before?: (store: Store, args: unknown[]) => Promise<string[]>;
  /** The hosts the record concerns after it, from the arguments and the result. */
  after?: (args: unknown[], result: unknown) => string[];
}

const id = (args: unknown[]): string => String(args[0]);

const CONCERNS: Record<string, Concern> = {
  createHost: { after: (args) => [(args[0] as { id: string }).id] },
  updateHost: { after: (args) => [id(args)] },
  createPool: { after: (args) => hostOf(args[0] as { hostId: string }) },
  updatePool: { after: (_args, result) => hostOf(result as { hostId: string }) },
  deletePool: { before: async (s, args) => hostOf(await s.getPool(id(args))) },
  createVolume: { after: (args) => volumeHosts(args[0] as VolumeRecord) },
  updateVolume: {
    before: async (s, args) => volumeHosts(await s.getVolume(id(args))),
    after: (_args, result) => volumeHosts(result as VolumeRecord),
  },
  observeVolume: { after: (_args, result) => volumeHosts(result as VolumeRecord) },
  deleteVolume: { before: async (s, args) => volumeHosts(await s.getVolume(id(args))) },
  createNetwork: { after: (args) => hostOf(args[0] as { hostId: string }) },
  updateNetwork: { after: (_args, result) => hostOf(result as { hostId: string }) },
  deleteNetwork: { before: async (s, args) => hostOf(await s.getNetwork(id(args))) },
  createDomain: { after: (args) => domainHosts(args[0] as DomainRecord) },
  updateDomain: {
    before: async (s, args) => domainHosts(await s.getDomain(id(args))),
    after: (_args, result) => domainHosts(result as DomainRecord),
  },
  observeDomain: { after: (_args, result) => domainHosts(result as DomainRecord) },
  deleteDomain: { before: async (s, args) => domainHosts(await s.getDomain(id(args))) },
};

function isWrite(name: string): boolean {
  return /^(create|update|delete|observe|prune|append)/.test(name);
}

/** Token writes: `tokensWritten` is told after each (auth-service.ts drops its cached tokens). */
const TOKEN_WRITES = new Set(["createToken", "updateToken"]);

export function notifyingStore(
  store: Store,
  changed: (hosts: Concerned) => void,
  tokensWritten: () => void = () => undefined,
): Store {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof property !== "string" || typeof value !== "function") return value;
      const method = value as (...a: unknown[]) => unknown;
      if (TOKEN_WRITES.has(property))
        return async (...args: unknown[]): Promise<unknown> => {
          try {
            return await method.apply(target, args);
          } finally {
            // Also after a failed write: whether it reached the table is not known.
            tokensWritten();
          }
        };
      if (!isWrite(property) || SILENT.has(property)) return method.bind(target);
      const observation = OBSERVATION_FIELDS[property];
      const concern = CONCERNS[property];
      return async (...args: unknown[]): Promise<unknown> => {
        // Not awaited before the write starts (see Concern.before); a failed read wakes everyone.
        const before = concern?.before?.(target, args).catch(() => undefined);
        const result: unknown = await method.apply(target, args);
        const patch = args[1];
        const quiet =
          observation !== undefined &&
          typeof patch === "object" &&
          patch !== null &&
          Object.keys(patch).every((key) => observation.has(key));
        if (quiet) return result;
        if (!concern) {
          changed("all");
          return result;
        }
        const earlier = before === undefined ? [] : await before;
        if (earlier === undefined) changed("all");
        else changed([...new Set([...earlier, ...(concern.after?.(args, result) ?? [])])]);
        return result;
      };
    },
  });
}
