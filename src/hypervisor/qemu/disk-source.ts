/**
 * Which QEMU block driver serves a guest disk, from what its source is on this host: an NBD
 * socket (a volume's NBD bridge), a block device (an AoE volume through the kernel initiator)
 * or a plain file. Checked before anything starts, with a message that says what is missing.
 */
import { stat } from "node:fs/promises";
import { EtherplaneError } from "../../foundation/errors.js";
import type { GuestSpec } from "../driver.js";
import type { QemuDiskNode } from "./qemu-argv.js";

export async function resolveDisk(disk: GuestSpec["disks"][number]): Promise<QemuDiskNode> {
  const { vdev, readOnly, source } = disk;
  if (source.kind === "nbd") {
    const info = await stat(source.socketPath).catch(() => undefined);
    if (!info?.isSocket()) {
      throw new EtherplaneError(
        "UNAVAILABLE",
        `disk ${vdev}: NBD socket ${source.socketPath} does not exist (is the volume's NBD bridge running?)`,
      );
    }
    return { driver: "nbd", socketPath: source.socketPath, readOnly, vdev };
  }
  const info = await stat(source.path).catch(() => undefined);
  if (info?.isBlockDevice()) return { driver: "host_device", path: source.path, readOnly, vdev };
  if (info?.isFile()) return { driver: "file", path: source.path, readOnly, vdev };
  throw new EtherplaneError(
    "UNAVAILABLE",
    `disk ${vdev}: ${source.path} is ${info ? "neither a block device nor a file" : "missing on this host"}`,
  );
}
