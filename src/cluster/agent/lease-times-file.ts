/**
 * The controller's lease timing, kept in the agent's data directory (`lease.json`), so that an
 * agent restarted under a controller with long leases gets the controller's grace before its
 * first renewal rather than the defaults' (lease-holder.ts). Written only when the timing
 * changes, replaced atomically; a missing, unreadable or out-of-bounds file is the defaults.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { replaceFileSync } from "../../foundation/atomic-file.js";
import { errorMessage } from "../../foundation/errors.js";
import type { Logger } from "../../foundation/log.js";
import { checkedLeaseTimes, type LeaseTimes } from "./lease-holder.js";

/** Larger than any valid file: what is read is bounded. */
const FILE_BYTES_MAX = 4096;

export function leaseTimesPath(dataDir: string): string {
  return path.join(dataDir, "lease.json");
}

/** The saved timing, or undefined (none saved, or not valid: said in the log). */
export function loadLeaseTimes(file: string, log: Logger): LeaseTimes | undefined {
  let text: string;
  try {
    const stat = fs.statSync(file);
    if (stat.size > FILE_BYTES_MAX) {
      log.warn(`${file}: ${stat.size} bytes is not a lease file; using the default lease timing`);
      return undefined;
    }
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT")
      log.warn(`${file}: cannot read it (${errorMessage(error)}); using the default lease timing`);
    return undefined;
  }
  let times: LeaseTimes | undefined;
  try {
    times = checkedLeaseTimes(JSON.parse(text));
  } catch {
    times = undefined;
  }
  if (!times) log.warn(`${file}: not a valid lease timing; using the default lease timing`);
  return times;
}

/** Saves `times` (atomically: a crash leaves the old file or the new one). Failure is logged. */
export function saveLeaseTimes(file: string, times: LeaseTimes, log: Logger): void {
  try {
    replaceFileSync(file, `${JSON.stringify(times)}\n`);
  } catch (error) {
    log.warn(`${file}: cannot save the lease timing (${errorMessage(error)})`);
  }
}
