/**
 * Fields of /proc/<pid>/stat and /proc/<pid>/task/<tid>/stat (proc(5)): the command name is in
 * parentheses and may itself hold spaces and ')', so fields are counted after the LAST ')'.
 */

export interface ProcStat {
  /** Field 3: R running, S sleeping, D disk sleep, Z zombie, T stopped, ... */
  state: string;
  /** Fields 14 + 15, utime + stime, in clock ticks. */
  cpuTicks: number;
}

export function parseProcStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const fields = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  const state = fields[0];
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (
    !state ||
    !/^[A-Za-z]$/.test(state) ||
    !Number.isSafeInteger(utime) ||
    !Number.isSafeInteger(stime)
  ) {
    return undefined;
  }
  return { state, cpuTicks: utime + stime };
}

/** USER_HZ: 100 on every Linux architecture Node runs on (sysconf(_SC_CLK_TCK)). */
export const clockTicksPerS = 100;
