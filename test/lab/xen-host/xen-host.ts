/**
 * One-shot Xen host: boots Xen 4.17 under QEMU/TCG (no KVM needed), runs a shell script in its
 * PV dom0 and reads the results off the serial console, where Xen (`console=com1`) and dom0
 * (`hvc0`, through Xen) both write; dom0 then powers off. host-launch.ts starts QEMU,
 * host-config.ts describes the options (network, AoE, shares), dom0-init.ts what dom0 does.
 */
import { EtherplaneError } from "../../../src/foundation/errors.js";
import type { GuestStage } from "../linux-guest/guest-console.js";
import { runQemu } from "../linux-guest/qemu-guest.js";
import type { XenHostCommonOptions } from "./host-config.js";
import { launchXenHost } from "./host-launch.js";

const timeoutMsDefault = 120_000;
const timeoutMsMax = 30 * 60_000;
const scriptBytesMax = 1024 * 1024;
/** dom0 lives in RAM: after `@@! EXIT` nothing is lost if QEMU is killed rather than halted. */
const poweroffGraceMs = 3_000;

export interface XenHostOptions extends XenHostCommonOptions {
  /**
   * busybox sh script run under `sh -e` in dom0 once xenstored, xen-init-dom0 and xenconsoled
   * are up (and the network, AoE and shares asked for), in /tmp, with the Xen tools on PATH. Its
   * stdout becomes `lines`; its stderr goes to the console only. A background process it starts
   * must not keep stdout open (redirect it), or the script never ends.
   */
  script: string;
  /** Whole boot, script and poweroff; QEMU is killed past it, and dom0 kills the script. */
  timeoutMs?: number;
}

export interface XenHostResult {
  exitCode: number;
  /** The script's stdout lines. */
  lines: string[];
  /** The whole serial console: Xen's `(XEN)` lines, dom0's kernel and /init, the script. */
  console: string;
  /** INIT, XEN (hypervisor version), NET, AOE, SHARES (as asked), DONE: dom0 uptime, host ms. */
  stages: GuestStage[];
  /** dom0's eth0 MAC, with `network`. */
  mac?: string;
  elapsedMs: number;
}

function invalid(message: string): never {
  throw new EtherplaneError("INVALID_ARGUMENT", message);
}

/** Boots Xen, runs `options.script` in dom0 and returns what it printed. */
export async function bootXenHost(options: XenHostOptions): Promise<XenHostResult> {
  if (Buffer.byteLength(options.script) > scriptBytesMax) {
    invalid(`script is over ${scriptBytesMax} bytes`);
  }
  const timeoutMs = options.timeoutMs ?? timeoutMsDefault;
  if (!(timeoutMs >= 1000 && timeoutMs <= timeoutMsMax)) invalid(`timeoutMs ${timeoutMs}`);
  const launched = await launchXenHost(
    options,
    { mode: "script", scriptS: Math.ceil(timeoutMs / 1000) },
    [{ path: "ep/script.sh", content: options.script, mode: 0o755 }],
  );
  const { child, host, stderr, startMs, context } = launched;
  try {
    const timedOut = await runQemu(child, host, stderr, timeoutMs, poweroffGraceMs);
    const elapsedMs = Date.now() - startMs;
    if (timedOut) {
      throw new EtherplaneError(
        "TIMEOUT",
        `Xen host did not finish in ${timeoutMs} ms${context()}`,
        {
          params: { elapsedMs },
        },
      );
    }
    if (host.failure !== undefined) {
      throw new EtherplaneError("UNAVAILABLE", `dom0 setup failed: ${host.failure}${context()}`, {
        params: { elapsedMs },
      });
    }
    if (host.exitCode === undefined) {
      throw new EtherplaneError(
        "IO_ERROR",
        `QEMU exited (${child.exitCode ?? child.signalCode}) before dom0 reported EXIT${context()}`,
        { params: { elapsedMs } },
      );
    }
    return {
      exitCode: host.exitCode,
      lines: host.lines,
      console: host.console,
      stages: host.stages,
      mac: launched.plan.network?.nics[0]?.mac,
      elapsedMs,
    };
  } finally {
    await launched.dispose();
  }
}
