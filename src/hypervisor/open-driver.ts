/**
 * The hypervisor driver an agent runs: `xen` (drives xl in a Xen dom0) or `qemu` (QEMU with QMP;
 * KVM when it works, TCG otherwise). The in-memory fake is for tests only and not offered here.
 */
import * as fs from "node:fs";
import type { HypervisorDriver } from "./driver.js";
import { QemuDriver } from "./qemu/index.js";
import { XenDriver } from "./xen/index.js";

export type AgentHypervisor = "xen" | "qemu";
export const AGENT_HYPERVISORS: readonly AgentHypervisor[] = ["xen", "qemu"];

/** xen in a Xen control domain (dom0), qemu elsewhere. */
export function detectHypervisor(): AgentHypervisor {
  try {
    // xenfs: dom0's capabilities say control_d (linux/drivers/xen/xenfs/xenfs.c).
    if (fs.readFileSync("/proc/xen/capabilities", "utf8").includes("control_d")) return "xen";
  } catch {
    // not a Xen domain, or xenfs not mounted
  }
  return "qemu";
}

export function openHypervisorDriver(kind: AgentHypervisor, stateDir: string): HypervisorDriver {
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  return kind === "xen" ? new XenDriver({ stateDir }) : new QemuDriver({ stateDir });
}
