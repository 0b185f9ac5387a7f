/**
 * What `xl migrate` and `xl migrate-receive` said, from their stderr and exit status (pure). The
 * messages are xl's own (migrate_domain and migrate_receive, tools/xl/xl_migrate.c, Xen 4.17);
 * their order tells how far a migration went, which decides where the guest runs afterwards:
 *
 *   sender                                              the guest afterwards
 *   "Migration successful."                             runs on the destination; gone here
 *   "Migration failed, failed to suspend at sender."    runs here (never stopped)
 *   "Migration failed, resuming at sender."             runs here (xl resumed it)
 *   "Migration failed due to problems at target."       runs here (the target gave it back)
 *   "Domain state is now undefined !"                   unknown: suspended here as
 *                                                       NAME--migratedaway, maybe running there
 *
 * xl prints no byte counts or dirty rates while it sends (it hides libxc's progress during
 * libxl_domain_suspend), so progress comes from the bytes the agent relays, not from here.
 */
import { EtherplaneError } from "../../foundation/errors.js";
import type { CommandResult } from "../../host/command-runner.js";
import { errorLines, xlFailure } from "./xl-errors.js";

export type SendOutcome = "moved" | "stayed" | "undefined";

/** The phases the sender reports on the way, in order (for the log and the task). */
export const SENDER_PHASES: readonly { pattern: RegExp; phase: string }[] = [
  { pattern: /Target has acknowledged transfer/, phase: "state transferred" },
  { pattern: /Giving target permission to start/, phase: "switching over" },
  { pattern: /Target reports successful startup/, phase: "running on the destination" },
];

/** The phase a line of the sender's stderr announces, if any. */
export function senderPhase(line: string): string | null {
  for (const { pattern, phase } of SENDER_PHASES) if (pattern.test(line)) return phase;
  return null;
}

/** Where the guest is once `xl migrate` exited. */
export function sendOutcome(result: CommandResult): SendOutcome {
  if (/Domain state is now undefined/.test(result.stderr)) return "undefined";
  if (result.code === 0 && /Migration successful/.test(result.stderr)) return "moved";
  // xl exits 0 only after "Migration successful." (or from usage paths that never sent).
  if (result.code === 0 && /Target reports successful startup/.test(result.stderr)) return "moved";
  return "stayed";
}

/** Known causes, checked before xl-errors.ts's generic rules. */
const SEND_CAUSES: readonly { pattern: RegExp; code: EtherplaneError["code"]; why: string }[] = [
  {
    // xg_sr_save.c: log-dirty tracking is what a live migration needs from the hypervisor.
    pattern: /Failed to enable logdirty|log.?dirty.*(Operation not supported|EOPNOTSUPP)/i,
    code: "UNAVAILABLE",
    why: "this Xen cannot track the guest's dirty pages (log-dirty mode); migrate it --offline",
  },
  {
    pattern: /failed to suspend at sender|guest.*(did not|didn't) (suspend|respond)/i,
    code: "REFUSED",
    why: "the guest did not suspend (no PV drivers, or hung); migrate it --offline",
  },
  {
    pattern:
      /No config file stored for running domain|unable to (read overridden config file|retrieve domain configuration)/,
    code: "INVALID_CONFIG",
    why: "xl keeps no configuration for this domain (created outside etherplane?)",
  },
  {
    pattern: /contained unexpected data instead of banner|migration receiver stream.*(eof|EOF)/,
    code: "PROTOCOL",
    why: "the transport did not reach xl migrate-receive on the destination",
  },
  {
    pattern: /problems at target|Target reports startup failure/,
    code: "UNAVAILABLE",
    why: "the destination could not start the guest and gave it back",
  },
  {
    // Last: more specific causes print this line too.
    pattern: /Migration failed, resuming at sender/,
    code: "UNAVAILABLE",
    why: "the transfer broke off (the stream to the destination failed or was cut)",
  },
];

/** The error for a failed `xl migrate`, saying where the guest is now. */
export function sendFailure(
  argv: readonly string[],
  result: CommandResult,
  name: string,
): EtherplaneError {
  const outcome = sendOutcome(result);
  const where =
    outcome === "undefined"
      ? `the final handshake broke after the switch-over began: ${name} is suspended here as ${name}--migratedaway and may run on the destination; xl left it for an administrator to check both hosts and keep one`
      : `${name} runs on here`;
  const params = { argv: [...argv], exitCode: result.code, subject: name, outcome };
  if (outcome === "undefined")
    return new EtherplaneError("CONFLICT", `${where}: ${errorLines(result)}`, { params });
  for (const cause of SEND_CAUSES)
    if (cause.pattern.test(result.stderr))
      return new EtherplaneError(cause.code, `${cause.why}; ${where}: ${errorLines(result)}`, {
        params,
      });
  const generic = xlFailure(argv, result, name);
  return new EtherplaneError(generic.code, `${generic.message}; ${where}`, { params });
}

/** The error for a failed `xl migrate-receive` (its copy is destroyed by xl or by discard). */
export function receiveFailure(
  argv: readonly string[],
  result: CommandResult,
  name: string,
): EtherplaneError {
  const generic = xlFailure(argv, result, name);
  return new EtherplaneError(
    generic.code === "IO_ERROR" ? "UNAVAILABLE" : generic.code,
    `guest ${name} did not arrive: ${errorLines(result)}`,
    { params: { argv: [...argv], exitCode: result.code, subject: name } },
  );
}
