/**
 * What `list()` says about a guest, from what the driver observed (pure): whether its QEMU
 * process lives, QEMU's run state (query-status), the events QEMU journaled, its vCPU threads.
 *
 * Flags follow `xl list` (libxl xcinfo2xlinfo and xl's list_domains): a guest that powered off
 * or rebooted shows `s`, a crashed one `c` without `s`; a running guest shows `r` when a vCPU
 * thread is on a CPU and `b` when all of them sleep (halted vCPUs block in the host).
 */
import type { GuestExit, GuestStateFlags } from "../driver.js";
import type { QmpMessage } from "./qmp-codec.js";

export interface ObservedGuest {
  /** The QEMU process exists (not a zombie). */
  alive: boolean;
  /** query-status's `status`, when QEMU answered. */
  status: string | undefined;
  /** Events from the journal, oldest first. */
  events: readonly QmpMessage[];
  /** Scheduler states (`R`, `S`, ...) of the vCPU threads, when known. */
  vcpuThreadStates: readonly string[];
  /** An exit recorded earlier (run-dir `exit`). */
  recordedExit: GuestExit | null;
}

export interface GuestCondition {
  state: GuestStateFlags;
  exit: GuestExit | null;
}

const noFlags: GuestStateFlags = {
  running: false,
  blocked: false,
  paused: false,
  shutdown: false,
  crashed: false,
  dying: false,
};

/**
 * The last guest-initiated stop in the journal: a SHUTDOWN the guest caused (`guest: true`) or
 * a GUEST_PANICKED. SHUTDOWN reasons are QAPI ShutdownCause names (qapi/run-state.json).
 */
export function exitFromEvents(events: readonly QmpMessage[]): GuestExit | null {
  let exit: GuestExit | null = null;
  for (const message of events) {
    if (message.kind !== "event") continue;
    if (message.name === "GUEST_PANICKED") exit = "crash";
    if (message.name !== "SHUTDOWN" || message.data["guest"] !== true) continue;
    const reason = message.data["reason"];
    if (reason === "guest-reset") exit = "reboot";
    else if (reason === "guest-panic") exit = "crash";
    else exit = "poweroff"; // guest-shutdown, or a cause newer than this code
  }
  return exit;
}

function stopped(exit: GuestExit): GuestCondition {
  return exit === "crash"
    ? { state: { ...noFlags, crashed: true }, exit }
    : { state: { ...noFlags, shutdown: true }, exit };
}

export function guestCondition(observed: ObservedGuest): GuestCondition {
  const journaled = exitFromEvents(observed.events);
  // QEMU gone without the guest stopping itself: it died (killed, OOM, host trouble).
  if (!observed.alive) return stopped(observed.recordedExit ?? journaled ?? "crash");
  switch (observed.status) {
    case "running": {
      const states = observed.vcpuThreadStates;
      const onCpu = states.length === 0 || states.some((state) => state === "R");
      return { state: { ...noFlags, running: onCpu, blocked: !onCpu }, exit: null };
    }
    case "suspended": // ACPI S3: asleep until woken
      return { state: { ...noFlags, blocked: true }, exit: null };
    case "shutdown":
      // -no-reboot made a reset a shutdown too; the journal tells which. Without a journaled
      // reason (journal lost) the stop is reported as a power-off.
      return stopped(observed.recordedExit ?? journaled ?? "poweroff");
    case "guest-panicked":
    case "internal-error":
      return stopped("crash");
    case undefined:
      // QEMU did not answer: trust the journal, else assume it still runs.
      if (observed.recordedExit ?? journaled)
        return stopped(observed.recordedExit ?? journaled ?? "poweroff");
      return { state: { ...noFlags, running: true }, exit: null };
    default:
      // paused, io-error (a disk error stopped it), prelaunch, migration states...
      return { state: { ...noFlags, paused: true }, exit: null };
  }
}
