/**
 * Where the copy lands: the new volume, opened on this machine. A host with the kernel's aoe
 * module sees it as /dev/etherd/eS.L; the storage host that owns it has its pool file, opened
 * through a loop device (no AoE round trips: the copy runs at the pool disk's speed). Anything
 * else is refused with where to run p2v instead.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { VolumeRecord } from "../../cluster/model.js";
import { EtherplaneError } from "../../foundation/errors.js";
import { attachLoop, detachLoop, mountDevice, unmount } from "../../p2v/local-tools.js";
import { requestAllPages } from "../client/pages.js";
import type { Session } from "../cluster/session.js";
import { PoolListReply } from "../../api/replies.js";

export interface OpenedVolume {
  device: string;
  /** Set when this run attached a loop device (detached by close). */
  loop: string | undefined;
}

export async function openVolume(session: Session, volume: VolumeRecord): Promise<OpenedVolume> {
  const etherd = `/dev/etherd/e${volume.shelf}.${volume.slot}`;
  if (fs.existsSync(etherd)) return { device: etherd, loop: undefined };
  const { pools } = await requestAllPages(session.client, "/api/v1/pools", "pools", PoolListReply);
  const pool = pools.find((p) => p.id === volume.poolId);
  const file = pool?.kind === "directory" ? path.join(pool.path, `${volume.id}.img`) : undefined;
  if (!file || !fs.existsSync(file))
    throw new EtherplaneError(
      "UNAVAILABLE",
      `volume ${volume.name} (e${volume.shelf}.${volume.slot}) is not reachable from this machine: ` +
        `run etherplane p2v on the storage host that owns its pool (${pool?.name ?? volume.poolId}, a directory pool), ` +
        "or on a host with the aoe module that sees /dev/etherd/eS.L",
      { params: { volume: volume.name } },
    );
  const loop = await attachLoop(file);
  return { device: loop, loop };
}

export async function closeVolume(
  opened: OpenedVolume | undefined,
  mountDir: string | undefined,
): Promise<void> {
  if (mountDir !== undefined) await unmount(mountDir);
  if (opened?.loop !== undefined) await detachLoop(opened.loop);
}

export { mountDevice };
