/**
 * Why a Xen domain shut down: libxl_shutdown_reason (tools/libs/light/libxl_types.idl), the same
 * numbers as the hypervisor's SHUTDOWN_* codes (xen/include/public/sched.h). `xl list` shows the
 * reason of a shut-down domain as the fifth State letter, from "-rscwS" indexed by the code
 * (list_domains, tools/xl/xl_info.c); `xl list -v` prints the code itself in hex (`%8x`).
 */
import type { GuestExit } from "../driver.js";

export const SHUTDOWN_REASON = {
  poweroff: 0,
  reboot: 1,
  suspend: 2,
  crash: 3,
  watchdog: 4,
  softReset: 5,
} as const;

/** xl's letters, indexed by reason code; `?` for a code outside the table. */
export const SHUTDOWN_REASON_LETTERS = "-rscwS";

/**
 * What a shut-down domain means to the agent:
 * - a watchdog reset is a hung guest: treated as a crash;
 * - a soft reset is the guest asking to be restarted in place (kexec): treated as a reboot;
 * - a suspend is a toolstack saving the domain (`xl save`, migration), not the guest stopping by
 *   itself: no exit;
 * - an unknown code is treated as a crash, the case that needs an administrator's policy.
 */
export function exitFromShutdownReason(code: number): GuestExit | null {
  switch (code) {
    case SHUTDOWN_REASON.poweroff:
      return "poweroff";
    case SHUTDOWN_REASON.reboot:
    case SHUTDOWN_REASON.softReset:
      return "reboot";
    case SHUTDOWN_REASON.suspend:
      return null;
    default:
      return "crash";
  }
}

/** The reason code behind an `xl list` State letter, or undefined for `?` and unknown letters. */
export function shutdownReasonFromLetter(letter: string): number | undefined {
  if (letter.length !== 1 || letter === "?") return undefined;
  const code = SHUTDOWN_REASON_LETTERS.indexOf(letter);
  return code === -1 ? undefined : code;
}
