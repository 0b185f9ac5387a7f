/**
 * The one interface every hypervisor driver implements (xen through `xl`, qemu through QMP, and a
 * fake for fast tests). All of them run the same contract test (driver.contract.ts).
 *
 * A driver knows only guests and this host: it never talks to the controller. The agent decides
 * what should run and enforces the on_poweroff/on_reboot/on_crash policies; a driver therefore
 * never restarts or destroys a guest by itself. When a guest stops by itself (power-off, reboot,
 * crash) the driver keeps it, stopped, in `list()` with `exit` set, until the agent calls
 * `destroy` (xl's "preserve" behaviour). Guests outlive the agent process: a new driver instance
 * finds the guests an earlier one started.
 *
 * Names address guests (as in xl): at most one guest per name per host. A name does not prove
 * that a guest is the one etherplane created, though: an administrator may run a guest of the
 * same name by hand. So every act takes the uuid the caller expects (`GuestSpec.uuid`, reported
 * back in `GuestInfo.uuid`): the driver reads the guest's uuid from the hypervisor itself and,
 * if it differs, refuses with CONFLICT and does nothing to that guest. Domain-0 (domid 0) is
 * never acted on. The agent always passes the uuid; it is optional only for tools and tests that
 * address guests by name alone.
 */
import type { Duplex } from "node:stream";
import type { GuestMigrator } from "./migration.js";

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

export interface HypervisorDriver {
  readonly kind: HypervisorKind;
  hostInfo(): Promise<HypervisorHostInfo>;
  /**
   * The guests this driver runs on this host, including stopped ones awaiting `destroy`. The xen
   * driver lists Domain-0 too (domid 0), as `xl list` does; callers that manage guests skip it.
   */
  list(): Promise<GuestInfo[]>;
  /**
   * Starts a guest; resolves once it runs. CONFLICT if a guest of that name exists;
   * UNAVAILABLE (with the reason) when the host lacks what the spec needs (a bridge, a disk,
   * memory); nothing is left behind on failure.
   */
  create(spec: GuestSpec): Promise<GuestInfo>;
  /*
   * The acts below take the guest's expected `uuid`: CONFLICT, and nothing done, when the guest
   * of that name has another one (see the top of this file).
   */
  /** Asks the guest to power off (ACPI / Xen PV shutdown); resolves once asked, not once off. */
  shutdown(name: string, uuid?: string): Promise<void>;
  /** Asks the guest to reboot. */
  reboot(name: string, uuid?: string): Promise<void>;
  /** Stops the guest at once and frees everything it held. NOT_FOUND if absent. */
  destroy(name: string, uuid?: string): Promise<void>;
  pause(name: string, uuid?: string): Promise<void>;
  unpause(name: string, uuid?: string): Promise<void>;
  /** Attaches to the guest's serial console. Several sessions may attach at once. */
  console(name: string, uuid?: string): Promise<GuestConsoleSession>;
  /** Live migration (migration.ts), when the driver can move a running guest. */
  readonly migration?: GuestMigrator;
}

/** `xl list`'s State column: six characters, a letter for each set flag and `-` otherwise. */
export function stateFlagsText(state: GuestStateFlags): string {
  return (
    (state.running ? "r" : "-") +
    (state.blocked ? "b" : "-") +
    (state.paused ? "p" : "-") +
    (state.shutdown ? "s" : "-") +
    (state.crashed ? "c" : "-") +
    (state.dying ? "d" : "-")
  );
}
