/**
 * The storage side of the FAKE benches: the real storage reconciler over directory pools (made
 * on first use), its AoE target a FAKE that records each config it is given; and a storage host
 * around it whose agent passes are run by the test.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { TargetConfig } from "../../../aoe/target/config.js";
import type { Logger } from "../../../foundation/log.js";
import { openDirectoryPool } from "../../../storage/pool/directory-pool.js";
import { InProcessLink } from "../../agent/controller-link.js";
import { StorageReconciler } from "../../agent/reconciler.js";
import type { HostRecord } from "../../model.js";
import type { Controller } from "../controller.js";

export interface FakeStorage {
  reconciler: StorageReconciler;
  /** The MAC mask the target serves `shelf`.0 with now; undefined: not exported. */
  servedMask: (shelf: number) => string[] | undefined;
}

/** `stateDir`: the reconciler's own state (its export files). */
export function fakeStorage(stateDir: string, log: Logger): FakeStorage {
  /** The configs the reconciler applied to the (fake) target, newest last. */
  const targetConfigs: TargetConfig[] = [];
  const reconciler = new StorageReconciler(
    async (pool) => {
      await fs.promises.mkdir(pool.path, { recursive: true });
      return openDirectoryPool(pool.path);
    },
    {
      apply: (config) => {
        targetConfigs.push(config);
        return Promise.resolve();
      },
    },
    stateDir,
    64,
    log,
  );
  return {
    reconciler,
    servedMask: (shelf) =>
      targetConfigs.at(-1)?.exports.find((e) => e.shelf === shelf && e.slot === 0)?.macMask,
  };
}

export interface FakeStorageHost extends FakeStorage {
  record: HostRecord;
  /** The directory pool "pool-1" the host serves, in `dir`/pool. */
  poolId: string;
  /** A pass of its agent: desired state in, pools and exports made, report out. */
  pass(): Promise<void>;
}

/**
 * A storage host (exports on "san0") with one directory pool "pool-1" under `dir`. `controller()`
 * is asked at every call, as an agent's HTTP link reaches whichever controller serves now.
 */
export async function fakeStorageHost(
  controller: () => Controller,
  name: string,
  dir: string,
  log: Logger,
): Promise<FakeStorageHost> {
  const record = await controller().agents.registerHost({
    name,
    roles: ["storage"],
    exportInterfaces: ["san0"],
  });
  const poolId = "pool-1";
  await controller().store.createPool({
    ...{ id: poolId, name: "p", hostId: record.id, kind: "directory", path: `${dir}/pool` },
    ...{ devices: [], capacityBytes: null, freeBytes: null, createdMs: 1 },
  });
  const storage = fakeStorage(path.join(dir, "aoe"), log);
  const link = () => new InProcessLink(controller().agents, record.id);
  return {
    ...storage,
    record,
    poolId,
    pass: async () => {
      const served = await storage.reconciler.reconcile(await link().desired(), () => undefined);
      await link().report({
        inventory: { hostname: name, agentVersion: "test", interfaces: [] },
        pools: served.pools,
        volumes: served.volumes,
        foreignTargets: [],
      });
    },
  };
}
