/**
 * Creating a guest: everything the spec needs from the host (bridges, disks, kernel, memory) is
 * checked before anything starts; then the run directory is taken (its mkdir is the name's lock),
 * the record written, taps made and QEMU started. A create that fails part way undoes what it
 * did. The caller holds the driver's create lock and the guest's lock.
 */
import { constants } from "node:fs";
import { access, mkdir, rm } from "node:fs/promises";
import { EtherplaneError, errorFields } from "../../foundation/errors.js";
import { createLogger } from "../../foundation/log.js";
import type { GuestSpec, HypervisorHostInfo } from "../driver.js";
import { resolveDisk } from "./disk-source.js";
import { allocateDomid } from "./domid-allocator.js";
import { addTap, deleteTap, findBridge, tapName, type BridgeInfo } from "./host-net.js";
import { qemuArgv, type QemuAccel } from "./qemu-argv.js";
import { startQemu, stopQemu, type QemuProcessOptions } from "./qemu-process.js";
import {
  recordVersion,
  runDirExists,
  runDirOf,
  socketPathBytesMax,
  writeRecord,
  type GuestRecord,
  type RunDir,
} from "./run-dir.js";

const log = createLogger("hypervisor:qemu");

export interface GuestCreateHost {
  stateDir: string;
  /** QEMU machine type. */
  machine: string;
  nbdReconnectDelayS: number;
  process: QemuProcessOptions;
  hostInfo(): Promise<HypervisorHostInfo>;
  resolveAccel(): Promise<QemuAccel>;
}

/** Creates the guest (started, or waiting for a migration with `incoming`); returns its run dir. */
export async function createGuest(
  host: GuestCreateHost,
  spec: GuestSpec,
  incoming: boolean,
): Promise<RunDir> {
  const run = runDirOf(host.stateDir, spec.name);
  const { context } = host.process;
  if (await runDirExists(run)) throw conflict(spec.name);
  if (Buffer.byteLength(run.consoleSocket) > socketPathBytesMax) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `name ${spec.name} makes socket path ${run.consoleSocket} longer than ${socketPathBytesMax} bytes: use a shorter name or stateDir`,
    );
  }
  // Everything the spec needs from the host is checked before anything starts.
  const bridges = new Map<string, BridgeInfo>();
  for (const vif of spec.vifs) {
    if (!bridges.has(vif.bridge)) bridges.set(vif.bridge, await findBridge(context, vif.bridge));
  }
  const disks = await Promise.all(spec.disks.map((disk) => resolveDisk(disk)));
  if (spec.boot.kind === "kernel") {
    await requireReadable(spec.boot.kernel, "kernel");
    if (spec.boot.ramdisk !== undefined) await requireReadable(spec.boot.ramdisk, "ramdisk");
  }
  const info = await host.hostInfo();
  if (spec.memoryMiB > info.freeMemoryMiB) {
    throw new EtherplaneError(
      "UNAVAILABLE",
      `guest ${spec.name} needs ${spec.memoryMiB} MiB; this host has ${info.freeMemoryMiB} MiB free for guests`,
      {
        params: { memoryMiB: spec.memoryMiB, freeMemoryMiB: info.freeMemoryMiB },
      },
    );
  }
  const accel = await host.resolveAccel();
  const domid = await allocateDomid(host.stateDir);
  const taps = spec.vifs.map((_, index) => tapName(domid, index));
  await mkdir(host.stateDir, { recursive: true });
  try {
    await mkdir(run.dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") throw conflict(spec.name);
    throw error;
  }
  const record: GuestRecord = {
    version: recordVersion,
    spec,
    domid,
    taps,
    accel,
    createdAtMs: Date.now(),
  };
  try {
    await writeRecord(run, record);
    for (const [index, vif] of spec.vifs.entries()) {
      const bridge = bridges.get(vif.bridge);
      if (!bridge || !taps[index]) throw new Error("bridge resolved above");
      await addTap(context, taps[index], bridge);
    }
    const argv = qemuArgv({
      spec,
      accel,
      machine: host.machine,
      paths: run,
      disks,
      nics: spec.vifs.map((vif, index) => ({
        tap: taps[index] ?? "",
        mac: vif.mac,
        mtu: bridges.get(vif.bridge)?.mtu ?? 1500,
      })),
      nbdReconnectDelayS: host.nbdReconnectDelayS,
      incoming,
    });
    await startQemu(host.process, run, argv);
    log.info(incoming ? "guest waiting for its migration" : "guest started", {
      name: spec.name,
      domid,
      accel,
    });
  } catch (error) {
    await cleanUpFailedCreate(host.process, run, taps);
    throw error;
  }
  return run;
}

async function cleanUpFailedCreate(
  qemu: QemuProcessOptions,
  run: RunDir,
  taps: readonly string[],
): Promise<void> {
  try {
    await stopQemu(qemu, run);
    for (const tap of taps) await deleteTap(qemu.context, tap);
    await rm(run.dir, { recursive: true, force: true });
  } catch (error) {
    log.error("cleanup after a failed create left something behind", {
      dir: run.dir,
      ...errorFields(error),
    });
  }
}

function conflict(name: string): EtherplaneError {
  return new EtherplaneError("CONFLICT", `a guest named ${name} already exists on this host`, {
    params: { name },
  });
}

async function requireReadable(path: string, what: string): Promise<void> {
  await access(path, constants.R_OK).catch((error: unknown) => {
    throw new EtherplaneError("UNAVAILABLE", `${what} ${path} is not readable on this host`, {
      cause: error,
    });
  });
}
