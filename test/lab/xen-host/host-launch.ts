/**
 * Starts QEMU for a Xen host (one-shot boot or session): the per-boot initramfs, the tap on the
 * caller's bridge, the command line found to work here (Debian's Xen 4.17 under QEMU/TCG):
 * - `-cpu qemu64,+svm,+npt`: `-cpu max` crashes the PV dom0 (SMAP emulation); NPT is what PVH
 *   guests need, Debian's Xen having no shadow paging;
 * - `bootscrub=0`: Xen does not scrub the free memory at boot (saves ~1 GiB of host RSS and time);
 * - `dom0_max_vcpus=1` by default (host-config.ts `dom0Vcpus`): a dom0 with 2 vCPUs on this 2-core
 *   machine, shared with other QEMUs, loses seconds to lock-holder preemption (two vCPU threads,
 *   one descheduled while holding a lock the other spins on). Measured under load here: ready in
 *   38-45 s with 2 vCPUs, 9-10 s with 1; Xen keeps all `cpus` for guests.
 * - `-initrd "<vmlinux> <args>,<initramfs>"`: the multiboot modules, dom0's kernel first. A comma
 *   inside a module's arguments would have to be written `,,`, so none is allowed: per-boot
 *   settings go to `/ep/config` instead.
 */
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EtherplaneError } from "../../../src/foundation/errors.js";
import { createLogger } from "../../../src/foundation/log.js";
import { GuestConsole } from "../linux-guest/guest-console.js";
import { composeInitrd } from "../linux-guest/initramfs.js";
import { buildCopyDisk, copyDiskSerial } from "./copy-disk.js";
import { addTap } from "./host-network.js";
import {
  planBoot,
  type BootPlan,
  type Dom0Settings,
  type XenHostCommonOptions,
} from "./host-config.js";
import { prepareXenHost, type XenHostImage } from "./host-image.js";

const log = createLogger("lab:xen-host");

export const dom0Cmdline = [
  "console=hvc0",
  "earlyprintk=xen",
  "quiet",
  "panic=-1", // a dying /init reboots dom0, Xen then reboots, and -no-reboot ends QEMU
].join(" ");

function invalid(message: string): never {
  throw new EtherplaneError("INVALID_ARGUMENT", message);
}

export function qemuXenArgs(o: {
  image: XenHostImage;
  initrd: string;
  dom0Cmdline: string;
  memoryMiB: number;
  dom0MemMiB: number;
  cpus: number;
  /** dom0's vCPUs; `cpus` when not given. */
  dom0Vcpus?: number;
}): string[] {
  for (const path of [o.image.xenPath, o.image.dom0KernelPath, o.initrd]) {
    if (/[\s,]/.test(path)) invalid(`boot file path ${path} holds a space or a comma`);
  }
  if (o.dom0Cmdline.includes(",")) invalid(`dom0 command line ${o.dom0Cmdline} holds a comma`);
  const xenCmdline = [
    "console=com1",
    "com1=115200,8n1",
    `dom0_mem=${o.dom0MemMiB}M,max:${o.dom0MemMiB}M`,
    "bootscrub=0",
    `dom0_max_vcpus=${o.dom0Vcpus ?? o.cpus}`,
  ].join(" ");
  return [
    ...["-machine", "pc", "-accel", "tcg", "-cpu", "qemu64,+svm,+npt"],
    ...["-m", String(o.memoryMiB), "-smp", String(o.cpus)],
    ...["-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot"],
    ...["-kernel", o.image.xenPath, "-append", xenCmdline],
    ...["-initrd", `${o.image.dom0KernelPath} ${o.dom0Cmdline},${o.initrd}`],
  ];
}

export interface LaunchedHost {
  child: ChildProcess;
  /** The serial console: Xen's `(XEN)` lines, dom0's kernel and /init. Fed by the caller. */
  host: GuestConsole;
  /** QEMU's stderr, last 16 KiB. Fed by the caller (linux-guest/qemu-guest.ts runQemu does). */
  stderr: { text: string };
  startMs: number;
  workDir: string;
  plan: BootPlan;
  /** QEMU's stderr and the console tail, for error messages. */
  context: (lines?: number) => string;
  /** Kills QEMU if it still runs, deletes the tap and the work folder. */
  dispose: () => Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("close", () => resolve()));
}

/**
 * Plans the boot (throws INVALID_ARGUMENT before anything is made), builds the per-boot initrd,
 * adds the tap and spawns QEMU. `extraArgs` gets the work folder (e.g. for a socket path).
 */
export async function launchXenHost(
  options: XenHostCommonOptions,
  settings: Dom0Settings,
  extraFiles: readonly { path: string; content: string | Buffer; mode?: number }[],
  extraArgs: (workDir: string) => string[] = () => [],
): Promise<LaunchedHost> {
  const plan = planBoot(options, settings);
  const image = await prepareXenHost({ cacheDir: options.cacheDir });
  const workDir = await mkdtemp(join(tmpdir(), "ep-xen-host-"));
  let child: ChildProcess | undefined;
  const tapsAdded: string[] = [];
  const dispose = async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    if (child) await exited(child);
    for (const tap of tapsAdded.splice(0)) {
      if (plan.network) await plan.network.bridgeNs.deleteTap(tap);
    }
    await rm(workDir, { recursive: true, force: true });
  };
  try {
    const diskArgs: string[] = [];
    const copyFiles = [];
    if (plan.copies.length > 0) {
      const copyDisk = join(workDir, "copies.img");
      const startMs = Date.now();
      const lines = await buildCopyDisk(plan.copies, join(workDir, "copies"), copyDisk);
      // The staging folder's hard links are not needed once the image holds the files.
      await rm(join(workDir, "copies"), { recursive: true, force: true });
      log.debug("copy disk built", { ms: Date.now() - startMs });
      copyFiles.push({ path: "ep/copies", content: lines });
      diskArgs.push(
        ...["-drive", `file=${copyDisk},if=none,id=${copyDiskSerial},format=raw,readonly=on`],
        ...["-device", `virtio-blk-pci,drive=${copyDiskSerial},serial=${copyDiskSerial}`],
      );
    }
    const initrd = join(workDir, "dom0-initrd.cpio");
    await composeInitrd(
      image.dom0InitramfsPath,
      [...plan.files, ...copyFiles, ...extraFiles],
      workDir,
      initrd,
    );
    const args = [
      ...qemuXenArgs({
        image,
        initrd,
        dom0Cmdline,
        memoryMiB: plan.memoryMiB,
        dom0MemMiB: plan.dom0MemMiB,
        cpus: plan.cpus,
        dom0Vcpus: plan.dom0Vcpus,
      }),
      ...plan.deviceArgs,
      ...diskArgs,
      ...extraArgs(workDir),
    ];
    for (const nic of plan.network?.nics ?? []) {
      // Recorded first: a half-made tap is deleted too.
      tapsAdded.push(nic.tap);
      await addTap(plan.network!.bridgeNs, nic);
    }
    const startMs = Date.now();
    const host = new GuestConsole(startMs);
    const stderr = { text: "" };
    log.debug("booting xen host", { args: args.join(" ") });
    const stdio = ["ignore", "pipe", "pipe"] as const;
    child = plan.network
      ? plan.network.bridgeNs.spawn("qemu-system-x86_64", args, { stdio: [...stdio] })
      : spawn("qemu-system-x86_64", args, { stdio: [...stdio] });
    options.net?.adopt(child);
    options.onSpawn?.(child);
    const context = (lines = 60) =>
      (stderr.text.trim() ? `\n--- QEMU stderr ---\n${stderr.text.trim()}` : "") +
      `\n--- console tail ---\n${host.tail(lines)}`;
    return { child, host, stderr, startMs, workDir, plan, context, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}
