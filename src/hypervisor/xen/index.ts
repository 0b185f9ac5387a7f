/**
 * The Xen hypervisor driver (HypervisorDriver over `xl`), its pure codecs for xl's outputs, and
 * the xl.cfg it writes for a guest.
 */
export { XenDriver } from "./xen-driver.js";
export { toGuestInfo } from "./guest-info.js";
export { XEN_TIMEOUTS_MS_DEFAULT } from "./xen-driver-options.js";
export type { XenDriverOptions, XenMigrateOptions, XenTimeoutsMs } from "./xen-driver-options.js";
export type { ConsoleSpawner } from "./console-hub.js";
export { buildGuestXlConfig, PRESERVED_ACTIONS } from "./guest-config.js";
export { checkGuestName, checkGuestSpec, GUEST_SPEC_LIMITS } from "./guest-spec-checks.js";
export { parseXlInfo, type XlInfo } from "./xl-info.js";
export { parseXlList, parseStateText, type XlListRow } from "./xl-list.js";
export {
  parseXlListLong,
  type XlDomainDetails,
  type XlDomainDisk,
  type XlDomainNic,
} from "./xl-list-long.js";
export { exitFromShutdownReason, SHUTDOWN_REASON } from "./shutdown-reason.js";
export { xlFailure } from "./xl-errors.js";
