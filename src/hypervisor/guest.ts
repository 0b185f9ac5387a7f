/**
 * What a hypervisor driver (driver.ts) runs and reports: a guest's spec, its state and its
 * console; shared by the driver interface and live migration (migration.ts).
 */
import type { Duplex } from "node:stream";

export type HypervisorKind = "xen" | "qemu" | "fake";

/** Where a guest disk's bytes come from on this host. */
export type GuestDiskSource =
  /** A block device or a raw file (e.g. /dev/etherd/e1.0 when the host has the aoe module). */
  | { kind: "path"; path: string }
  /** An NBD export on a Unix socket (etherplane's AoE initiator bridge, `aoe nbd`). */
  | { kind: "nbd"; socketPath: string };

export interface GuestDisk {
  /** The device name the guest sees, as in xl.cfg: xvda, sda1, hdb... */
  vdev: string;
  source: GuestDiskSource;
  readOnly: boolean;
}

export interface GuestVif {
  /** 00:16:3e:xx:xx:xx, lower case. */
  mac: string;
  /** The host bridge the guest's interface is plugged into; it exists before `create`. */
  bridge: string;
}

export type GuestBoot =
  /** Direct kernel boot, as Xen PV guests boot: kernel, ramdisk and command line from the host. */
  | { kind: "kernel"; kernel: string; ramdisk?: string; cmdline: string }
  /** The guest's own firmware and boot loader boot from its first disk. */
  | { kind: "firmware" };

export interface GuestSpec {
  name: string;
  /** RFC 4122 text form; kept across restarts of the same domain. */
  uuid: string;
  memoryMiB: number;
  vcpus: number;
  boot: GuestBoot;
  disks: GuestDisk[];
  vifs: GuestVif[];
  /**
   * The domain's own xl.cfg text as the administrator wrote it (unknown keys included). The xen
   * driver starts from it; other drivers ignore it.
   */
  xlConfig?: string;
  /**
   * Keys of the domain policy's table (src/domain/policy) an admin allowed in `xlConfig`; the xen
   * driver refuses every other refused key, and writes dm_restrict = 1 unless it is allowed.
   */
  allowUnsafe?: readonly string[];
}

/** Why a guest stopped by itself. */
export type GuestExit = "poweroff" | "reboot" | "crash";

/** `xl list`'s six state flags, in its order: r b p s c d. */
export interface GuestStateFlags {
  running: boolean;
  blocked: boolean;
  paused: boolean;
  shutdown: boolean;
  crashed: boolean;
  dying: boolean;
}

export interface GuestInfo {
  name: string;
  /** Xen's domid; for qemu a small per-host number that changes on every (re)start. */
  domid: number;
  uuid: string;
  memoryMiB: number;
  vcpus: number;
  state: GuestStateFlags;
  cpuTimeS: number;
  /** Set once the guest has stopped by itself; it stays listed until `destroy`. */
  exit: GuestExit | null;
}

export interface HypervisorHostInfo {
  kind: HypervisorKind;
  /** e.g. "4.17.7" for Xen, "7.2.15" for QEMU. */
  version: string;
  /** "kvm" or "tcg" for qemu; "pv"/"hvm" capable etc. for xen; free text. */
  detail: string;
  cpus: number;
  totalMemoryMiB: number;
  /** What new guests can still get (Xen: free memory; qemu: host memory minus running guests). */
  freeMemoryMiB: number;
}

/** An attached serial console: `stream` carries the guest's bytes both ways. */
export interface GuestConsoleSession {
  /** What the guest printed before the attach (bounded; the boot messages), then live output. */
  history: Buffer;
  stream: Duplex;
  close(): Promise<void>;
}
