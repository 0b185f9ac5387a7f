/**
 * A guest's run directory, `<stateDir>/<name>/`: everything a driver instance needs to find and
 * manage a guest that an earlier instance (an agent since restarted) started.
 *
 *   guest.json     the record: spec, domid, taps, accel (written before anything is started)
 *   qemu.pid       QEMU's -pidfile
 *   qmp.sock       QMP for the driver's commands
 *   events.in      FIFO: QEMU's event monitor reads `qmp_capabilities` from it once
 *   events.out     the event journal: QEMU writes the monitor's output (every event) here itself
 *   console.sock   the serial console
 *   console.log    what the guest printed (QEMU appends); console.log.1 the previous tail
 *   exit           the exit reason once observed (poweroff|reboot|crash)
 *
 * The name itself is the lock: `mkdir` of the run directory fails when the name is taken.
 */
import { open, readFile, readdir, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { replaceFile } from "../../foundation/atomic-file.js";
import { childPath } from "../../foundation/contained-path.js";
import type { GuestExit, GuestSpec } from "../driver.js";
import type { QemuAccel, QemuRunPaths } from "./qemu-argv.js";
import { parseProcStat } from "./proc-stat.js";

export const recordVersion = 1;
/** A Unix socket path holds at most 107 bytes (sockaddr_un.sun_path, with its NUL). */
export const socketPathBytesMax = 107;
/** What `console()` replays of the guest's past output. */
export const consoleHistoryBytesMax = 64 * 1024;
/** console.log is cut back to its tail (in console.log.1) when it grows past this. */
export const consoleLogBytesMax = 1024 * 1024;
/** The journal tail read for exit reasons: QEMU writes a few hundred bytes per event. */
const journalTailBytesMax = 64 * 1024;
const recordBytesMax = 1024 * 1024;

export interface GuestRecord {
  version: typeof recordVersion;
  spec: GuestSpec;
  domid: number;
  /** The taps made for the vifs, in vif order; deleted on destroy. */
  taps: string[];
  accel: QemuAccel;
  createdAtMs: number;
}

export interface RunDir extends QemuRunPaths {
  dir: string;
  record: string;
  eventsIn: string;
  eventsOut: string;
  consoleLogPrevious: string;
  exit: string;
}

export function runDirOf(stateDir: string, name: string): RunDir {
  // The name is one component of stateDir: files are created, rewritten and deleted here as root.
  const dir = childPath(stateDir, name);
  return {
    dir,
    record: join(dir, "guest.json"),
    pidFile: join(dir, "qemu.pid"),
    qmpSocket: join(dir, "qmp.sock"),
    eventsBase: join(dir, "events"),
    eventsIn: join(dir, "events.in"),
    eventsOut: join(dir, "events.out"),
    consoleSocket: join(dir, "console.sock"),
    consoleLog: join(dir, "console.log"),
    consoleLogPrevious: join(dir, "console.log.1"),
    exit: join(dir, "exit"),
  };
}

/** Whether the run directory exists (a guest, one being created, or debris of a failed create). */
export async function runDirExists(run: RunDir): Promise<boolean> {
  return stat(run.dir).then(
    () => true,
    () => false,
  );
}

export async function listRunDirNames(stateDir: string): Promise<string[]> {
  const entries = await readdir(stateDir, { withFileTypes: true }).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  });
  return entries
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith("."))
    .map((entry) => entry.name)
    .sort();
}

export async function writeRecord(run: RunDir, record: GuestRecord): Promise<void> {
  await replaceFile(run.record, JSON.stringify(record, null, 2) + "\n");
}

/** The record, or undefined when absent or not one this code wrote (a half-made directory). */
export async function readRecord(run: RunDir): Promise<GuestRecord | undefined> {
  const text = await readBounded(run.record, recordBytesMax);
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<GuestRecord>;
    if (value.version !== recordVersion || typeof value.domid !== "number" || !value.spec) {
      return undefined;
    }
    return value as GuestRecord;
  } catch {
    return undefined;
  }
}

async function readBounded(path: string, bytesMax: number): Promise<string | undefined> {
  try {
    const { size } = await stat(path);
    if (size > bytesMax) return undefined;
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

export async function readExit(run: RunDir): Promise<GuestExit | null> {
  const text = (await readBounded(run.exit, 64))?.trim();
  return text === "poweroff" || text === "reboot" || text === "crash" ? text : null;
}

export async function writeExit(run: RunDir, exit: GuestExit): Promise<void> {
  await writeFile(run.exit, exit + "\n");
}

/** The last `bytesMax` bytes of a file (empty when absent), and whether it was cut. */
export async function readTail(
  path: string,
  bytesMax: number,
): Promise<{ data: Buffer; cut: boolean }> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return { data: Buffer.alloc(0), cut: false };
    }
    throw error;
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, bytesMax);
    const data = Buffer.alloc(length);
    const { bytesRead } = await handle.read(data, 0, length, size - length);
    return { data: data.subarray(0, bytesRead), cut: size > length };
  } finally {
    await handle.close();
  }
}

export async function readJournalTail(run: RunDir): Promise<{ text: string; cut: boolean }> {
  const { data, cut } = await readTail(run.eventsOut, journalTailBytesMax);
  return { text: data.toString("utf8"), cut };
}

/** The console's past output: the tail of console.log.1 then console.log, bounded. */
export async function readConsoleHistory(run: RunDir): Promise<Buffer> {
  const current = await readTail(run.consoleLog, consoleHistoryBytesMax);
  const room = consoleHistoryBytesMax - current.data.length;
  if (room <= 0) return current.data;
  const previous = await readTail(run.consoleLogPrevious, room);
  return Buffer.concat([previous.data, current.data]);
}

/**
 * Bounds console.log: past `consoleLogBytesMax`, its tail goes to console.log.1 and it is
 * truncated. QEMU opened it O_APPEND (logappend=on), so its next write lands at the new end.
 * Output written between the copy and the truncation (microseconds) is lost.
 */
export async function trimConsoleLog(run: RunDir): Promise<void> {
  const size = await stat(run.consoleLog).then(
    (s) => s.size,
    () => 0,
  );
  if (size <= consoleLogBytesMax) return;
  const { data } = await readTail(run.consoleLog, consoleHistoryBytesMax);
  await writeFile(run.consoleLogPrevious, data);
  await truncate(run.consoleLog, 0);
}

/**
 * The pid in the pid file when that process is alive, not a zombie, and is the QEMU of this run
 * directory (its command line names the pid file: a reused pid is not mistaken for it).
 */
export async function livePid(run: RunDir): Promise<number | undefined> {
  const text = await readBounded(run.pidFile, 64);
  const pid = Number(text?.trim());
  if (!Number.isSafeInteger(pid) || pid <= 1) return undefined;
  return (await isQemuOf(pid, run)) ? pid : undefined;
}

export async function isQemuOf(pid: number, run: RunDir): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8");
    if (!cmdline.split("\0").includes(run.pidFile)) return false;
    const state = parseProcStat(await readFile(`/proc/${pid}/stat`, "utf8"))?.state;
    return state !== undefined && state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}
