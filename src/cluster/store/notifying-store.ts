/**
 * A Store that says when a write may have changed some host's desired state, so that agents'
 * long-polls wake (controller/desired-watch.ts). Reports that only refresh observations (a host's
 * inventory, a pool's free bytes, a volume's allocation) do not wake anyone: otherwise every
 * report would wake every agent, which is the load this exists to remove.
 */
import type { Store } from "./store.js";

/** Writes that never reach a desired state. */
const SILENT = new Set<string>([
  "createTask",
  "updateTask",
  "createToken",
  "updateToken",
  "appendAudit",
  "pruneAudit",
  "appendEvent",
  "setSetting",
]);

/** For these, patches touching only the listed fields are observations only. */
const OBSERVATION_FIELDS: Record<string, ReadonlySet<string>> = {
  updateHost: new Set(["inventory", "lastSeenMs"]),
  updatePool: new Set(["capacityBytes", "freeBytes"]),
  observeVolume: new Set(["allocatedBytes"]),
};

function isWrite(name: string): boolean {
  return /^(create|update|delete|observe|prune|append)/.test(name);
}

export function notifyingStore(store: Store, changed: () => void): Store {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof property !== "string" || typeof value !== "function") return value;
      const method = value as (...a: unknown[]) => unknown;
      if (!isWrite(property) || SILENT.has(property)) return method.bind(target);
      const observation = OBSERVATION_FIELDS[property];
      return async (...args: unknown[]): Promise<unknown> => {
        const result: unknown = await method.apply(target, args);
        const patch = args[1];
        const quiet =
          observation !== undefined &&
          typeof patch === "object" &&
          patch !== null &&
          Object.keys(patch).every((key) => observation.has(key));
        if (!quiet) changed();
        return result;
      };
    },
  });
}
