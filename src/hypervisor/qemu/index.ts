/**
 * The qemu hypervisor driver: guests as daemonized QEMU processes managed over QMP, their state
 * in per-guest run directories (see qemu-driver.ts for the design, run-dir.ts for the files).
 */
export { QemuDriver, parseQemuVersion, type QemuDriverOptions } from "./qemu-driver.js";
export type { AccelOption } from "./accel.js";
