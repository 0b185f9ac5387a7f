/**
 * The fields the driver reads from QMP replies (qapi/run-state.json `query-status`,
 * qapi/machine.json `query-cpus-fast`). Pure: a reply QEMU shaped otherwise reads as "unknown"
 * (undefined, no threads), never as an exception, because a guest's QEMU is not trusted to
 * answer well.
 */

/** `query-status` -> its `status` (e.g. "running", "shutdown"); undefined for anything else. */
export function runStatusOf(value: unknown): string | undefined {
  const status = (value as { status?: unknown } | null)?.status;
  return typeof status === "string" ? status : undefined;
}

/** `query-cpus-fast` -> the host thread id of each vCPU; malformed entries are left out. */
export function vcpuThreadIdsOf(value: unknown): number[] {
  if (!Array.isArray(value)) return [];
  return value
    .map((cpu) => (cpu as { "thread-id"?: unknown } | null)?.["thread-id"])
    .filter(
      (tid): tid is number => typeof tid === "number" && Number.isSafeInteger(tid) && tid > 0,
    );
}
