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
import type { GuestMigrator } from "./migration.js";
import type {
  GuestConsoleSession,
  GuestInfo,
  GuestSpec,
  HypervisorHostInfo,
  HypervisorKind,
  GuestStateFlags,
} from "./guest.js";

export * from "./guest.js";

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
