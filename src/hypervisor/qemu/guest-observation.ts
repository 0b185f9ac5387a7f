/**
 * What a guest is doing, read from its run directory, its QEMU (QMP query-uuid, query-status,
 * query-cpus-fast) and /proc: the state and exit reason (guest-status.ts decides), the CPU time.
 * The exit reason, once seen, is written to the run directory so that it outlives the journal.
 */
import { readFile } from "node:fs/promises";
import { errorFields } from "../../foundation/errors.js";
import { createLogger } from "../../foundation/log.js";
import type { GuestInfo } from "../driver.js";
import { guestCondition } from "./guest-status.js";
import { queryGuestUuid } from "./guest-uuid.js";
import { clockTicksPerS, parseProcStat } from "./proc-stat.js";
import { parseQmpTranscript } from "./qmp-codec.js";
import { withQmp } from "./qmp-client.js";
import { runStatusOf, vcpuThreadIdsOf } from "./qmp-replies.js";
import {
  listRunDirNames,
  livePid,
  readExit,
  readJournalTail,
  readRecord,
  runDirOf,
  trimConsoleLog,
  writeExit,
} from "./run-dir.js";

const log = createLogger("hypervisor:qemu");

/** The guest `name` in `stateDir`; undefined while it has no record (being created, or debris). */
export async function observeGuest(
  stateDir: string,
  name: string,
  qmpTimeoutMs: number,
): Promise<GuestInfo | undefined> {
  const run = runDirOf(stateDir, name);
  const record = await readRecord(run);
  if (!record) return undefined; // being created, or debris of a create that died: destroy cleans it
  const pid = await livePid(run);
  let status: string | undefined;
  let threadIds: number[] = [];
  // Which guest answers: QEMU's -uuid, else (exited, or silent) what the record asked for.
  let uuid = record.spec.uuid;
  if (pid !== undefined) {
    try {
      await withQmp(run.qmpSocket, qmpTimeoutMs, async (qmp) => {
        uuid = (await queryGuestUuid(qmp, qmpTimeoutMs)) ?? uuid;
        status = runStatusOf(await qmp.execute("query-status", undefined, qmpTimeoutMs));
        threadIds = vcpuThreadIdsOf(await qmp.execute("query-cpus-fast", undefined, qmpTimeoutMs));
      });
    } catch (error) {
      log.warn("guest did not answer query-status", { name, ...errorFields(error) });
    }
  }
  const journal = await readJournalTail(run);
  const recordedExit = await readExit(run);
  const vcpuThreadStates: string[] = [];
  let cpuTimeS = 0;
  if (pid !== undefined) {
    for (const tid of threadIds) {
      const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, "utf8").catch(() => "");
      const state = parseProcStat(stat)?.state;
      if (state) vcpuThreadStates.push(state);
    }
    const stat = parseProcStat(await readFile(`/proc/${pid}/stat`, "utf8").catch(() => ""));
    cpuTimeS = (stat?.cpuTicks ?? 0) / clockTicksPerS;
  }
  const condition = guestCondition({
    alive: pid !== undefined,
    status,
    events: parseQmpTranscript(journal.text, journal.cut),
    vcpuThreadStates,
    recordedExit,
  });
  if (condition.exit !== null && recordedExit === null) {
    await writeExit(run, condition.exit).catch((error: unknown) =>
      log.warn("exit reason not recorded", { name, ...errorFields(error) }),
    );
  }
  await trimConsoleLog(run).catch((error: unknown) =>
    log.warn("console log not trimmed", { name, ...errorFields(error) }),
  );
  return {
    name,
    domid: record.domid,
    uuid,
    memoryMiB: record.spec.memoryMiB,
    vcpus: record.spec.vcpus,
    state: condition.state,
    cpuTimeS,
    exit: condition.exit,
  };
}

/** Memory of every guest whose QEMU lives (a stopped guest's QEMU still holds its memory). */
export async function usedMemoryMiB(stateDir: string): Promise<number> {
  let used = 0;
  for (const name of await listRunDirNames(stateDir)) {
    const run = runDirOf(stateDir, name);
    const record = await readRecord(run);
    if (record && (await livePid(run)) !== undefined) used += record.spec.memoryMiB;
  }
  return used;
}
