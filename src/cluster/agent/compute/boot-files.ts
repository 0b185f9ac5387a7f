/**
 * A guest's kernel and ramdisk come from this host's boot directory, nowhere else: the agent
 * resolves each path (symlinks followed, as the hypervisor would open it) and refuses one that
 * lands outside, before the driver runs. Without it a domain file's `ramdisk = "/etc/shadow"`
 * is loaded into guest RAM by a root hypervisor. A guest that needs no host file boots from its
 * own volume instead (`bootloader = "pygrub"` under Xen, its firmware under QEMU).
 *
 * The driver gets the resolved paths, so a symlink swapped after the check changes nothing.
 */
import { realpath, stat } from "node:fs/promises";
import { isAbsolute, join, sep } from "node:path";
import { EtherplaneError } from "../../../foundation/errors.js";
import type { GuestBoot, GuestSpec, HypervisorDriver } from "../../../hypervisor/driver.js";
import type { GuestMigrator } from "../../../hypervisor/migration.js";

/** Where an administrator puts the kernels and ramdisks guests of this host may boot. */
export const BOOT_DIR_DEFAULT = "/var/lib/etherplane/boot";

/** The boot with each host file resolved inside `bootDir`; FORBIDDEN or NOT_FOUND otherwise. */
export async function resolveBootFiles(boot: GuestBoot, bootDir: string): Promise<GuestBoot> {
  if (boot.kind === "firmware") return boot;
  const root = await realpath(bootDir).catch((cause: unknown) => {
    throw new EtherplaneError(
      "UNAVAILABLE",
      `this host's boot directory ${bootDir} is missing (${(cause as Error).message}): ` +
        "create it and put the guests' kernels there, or start the agent with --boot-dir DIR",
      { cause, params: { bootDir } },
    );
  });
  const kernel = await resolveOne("kernel", boot.kernel, bootDir, root);
  const ramdisk =
    boot.ramdisk === undefined
      ? undefined
      : await resolveOne("ramdisk", boot.ramdisk, bootDir, root);
  return { ...boot, kernel, ...(ramdisk === undefined ? {} : { ramdisk }) };
}

async function resolveOne(
  what: "kernel" | "ramdisk",
  file: string,
  bootDir: string,
  root: string,
): Promise<string> {
  // A relative name is a file of the boot directory: `kernel = "vmlinuz-6.1"`.
  const path = isAbsolute(file) ? file : join(root, file);
  const fix =
    `put the file in this host's boot directory ${bootDir} (symlinks are followed and must ` +
    'stay inside it), or boot from the domain\'s own disk (Xen: bootloader = "pygrub"; ' +
    "QEMU: no kernel line, the guest's firmware boots its first disk)";
  let real: string;
  try {
    real = await realpath(path);
  } catch (cause) {
    throw new EtherplaneError(
      "NOT_FOUND",
      `${what} ${JSON.stringify(file)} does not exist on this host: ${fix}`,
      { cause, params: { field: what, bootDir } },
    );
  }
  if (!real.startsWith(root.endsWith(sep) ? root : root + sep)) {
    throw new EtherplaneError(
      "FORBIDDEN",
      `${what} ${JSON.stringify(file)} is outside this host's boot directory ${bootDir}` +
        (real === path ? "" : ` (it resolves to ${real})`) +
        `: ${fix}`,
      { params: { field: what, bootDir } },
    );
  }
  if (!(await stat(real)).isFile()) {
    throw new EtherplaneError(
      "INVALID_CONFIG",
      `${what} ${JSON.stringify(file)} is not a regular file in ${bootDir}`,
      { params: { field: what, bootDir } },
    );
  }
  return real;
}

/**
 * The driver as the agent uses it: `create` boots only files of the boot directory; everything
 * else passes through.
 */
export function withBootDirectory(driver: HypervisorDriver, bootDir: string): HypervisorDriver {
  return {
    kind: driver.kind,
    hostInfo: () => driver.hostInfo(),
    list: () => driver.list(),
    create: async (spec: GuestSpec) =>
      driver.create({ ...spec, boot: await resolveBootFiles(spec.boot, bootDir) }),
    shutdown: (name) => driver.shutdown(name),
    reboot: (name) => driver.reboot(name),
    destroy: (name) => driver.destroy(name),
    pause: (name) => driver.pause(name),
    unpause: (name) => driver.unpause(name),
    console: (name) => driver.console(name),
    ...(driver.migration
      ? { migration: withBootDirectoryIncoming(driver.migration, bootDir) }
      : {}),
  };
}

/** A migration's destination resolves boot files as `create` does (the spec is the same). */
function withBootDirectoryIncoming(migration: GuestMigrator, bootDir: string): GuestMigrator {
  return {
    prepareIncoming: async (spec: GuestSpec) =>
      migration.prepareIncoming({ ...spec, boot: await resolveBootFiles(spec.boot, bootDir) }),
    send: (name, uuid, stream, onProgress, limits) =>
      migration.send(name, uuid, stream, onProgress, limits),
  };
}
