/**
 * A volume holding a domain guest's root filesystem for the QEMU/TCG end-to-end tests: created in
 * the pool of qemu-cluster.ts, a busybox root filesystem with the caller's init script
 * (domain-guest/rootfs-image.ts) written into it over AoE from a compute host's SAN interface,
 * whose access is granted for the write only and taken back after it (`etherplane volume deny`).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type { TaskRecord, VolumeRecord } from "../../src/cluster/model.js";
import { runCli } from "./cli-process.js";
import type { StorageHost } from "./cluster-lab.js";
import { buildRootFsImage } from "./domain-guest/index.js";
import type { QemuCluster } from "./qemu-cluster.js";

export interface GuestVolume {
  volume: VolumeRecord;
  /** The AoE device name, eS.L. */
  device: string;
  /** The volume's file on the storage host (read it with debugfs, check it with e2fsck). */
  file: string;
}

const VOLUME_BYTES = 64 * 1024 * 1024;
const CREATE_MS_MAX = 60_000;
const WRITE_MS_MAX = 120_000;

export async function guestVolume(
  cluster: QemuCluster,
  options: {
    name: string;
    writer: StorageHost;
    initScript: string;
    /** The pool and its storage host (default: the lab's pool on its first storage host). */
    pool?: { name: string; host: StorageHost };
  },
): Promise<GuestVolume> {
  const { lab } = cluster;
  const { writer } = options;
  const writerMac = await writer.ns.mac(writer.aoeIf);
  const created = await lab.call<{ volume: VolumeRecord; task: TaskRecord }>(
    "POST",
    "/api/v1/volumes",
    {
      name: options.name,
      sizeBytes: VOLUME_BYTES,
      allow: [writerMac],
      ...(options.pool ? { pool: options.pool.name } : {}),
    },
  );
  assert.equal(created.status, 202, JSON.stringify(created.body));
  const { volume } = created.body;
  const device = `e${volume.shelf}.${volume.slot}`;
  await cluster.taskSucceeded("the volume", created.body.task.id, CREATE_MS_MAX);
  const image = path.join(lab.dir, `${options.name}.img`);
  await buildRootFsImage({
    path: image,
    sizeMiB: VOLUME_BYTES / 2 ** 20,
    initScript: options.initScript,
  });
  const write = await runCli(["aoe", "write", device, "--iface", writer.aoeIf], {
    ns: writer.ns,
    input: fs.readFileSync(image),
    timeoutMs: WRITE_MS_MAX,
  });
  assert.equal(write.code, 0, write.stderr);
  fs.rmSync(image);
  const denied = await cluster.cli(["volume", "deny", options.name, writerMac]);
  assert.equal(denied.code, 0, denied.stderr);
  // Each lab pool is the folder `pool` in its storage host's data directory.
  const poolHost = options.pool?.host ?? cluster.storage;
  const file = path.join(poolHost.dataDir, "pool", `${volume.id}.img`);
  return { volume, device, file };
}
