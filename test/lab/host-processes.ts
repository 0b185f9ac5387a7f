/**
 * A lab host's processes, found by PID and never by name: its agent (the lab's child process),
 * its guests' QEMU (`<agent dir>/hypervisor/<name>/qemu.pid`, the qemu driver's run directories)
 * and its disk bridges (`<agent dir>/disks/*.pid`, the NBD bridges of guest-disks.ts), where the
 * agent dir is `<--data-dir>/agent` (cli/cluster/run.ts). Each PID is
 * checked against /proc/PID/cmdline naming the host's data directory before it is signalled, so a
 * recycled PID is never hit. Used by the HA chaos tests to cut a host's power or freeze it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { StorageHost } from "./cluster-lab.js";

/** /proc/PID/cmdline as one string (NULs as spaces), or undefined once the process is gone. */
function cmdline(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return undefined;
  }
}

/** Whether the process exists and is not a zombie (/proc/PID/stat field 3). */
export function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

function pidsIn(files: readonly string[], dataDir: string): number[] {
  const pids: number[] = [];
  for (const file of files) {
    let pid: number;
    try {
      pid = Number(fs.readFileSync(file, "utf8").trim());
    } catch {
      continue; // removed meanwhile
    }
    if (!Number.isInteger(pid) || pid <= 1) continue;
    if (cmdline(pid)?.includes(dataDir) && running(pid)) pids.push(pid);
  }
  return pids;
}

function filesUnder(dir: string, pick: (name: string) => string | undefined): string[] {
  try {
    return fs
      .readdirSync(dir)
      .map(pick)
      .filter((f): f is string => f !== undefined)
      .map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

/** Where the agent started with `--data-dir host.dataDir` keeps its files. */
export function agentDir(host: StorageHost): string {
  return path.join(host.dataDir, "agent");
}

/** A guest's run directory on a qemu host (hypervisor/qemu/run-dir.ts). */
export function guestRunDir(host: StorageHost, name: string): string {
  return path.join(agentDir(host), "hypervisor", name);
}

/** The host's live QEMU processes, from its run directories' pid files. */
export function qemuPids(host: StorageHost): number[] {
  const runDirs = path.join(agentDir(host), "hypervisor");
  const files = filesUnder(runDirs, (name) => path.join(name, "qemu.pid"));
  return pidsIn(files, host.dataDir);
}

/** The host's live disk bridges (`etherplane aoe nbd`), from their pid files. */
export function diskBridgePids(host: StorageHost): number[] {
  const dir = path.join(agentDir(host), "disks");
  return pidsIn(
    filesUnder(dir, (name) => (name.endsWith(".pid") ? name : undefined)),
    dir,
  );
}

/** The parent PID (/proc/PID/stat field 4), or undefined once the process is gone. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

/**
 * Every live process in /proc whose command line names `dir` and runs `program` and contains
 * each of `words` (a QEMU left without its pid file would show here and not in qemuPids).
 */
export function processesNaming(dir: string, program: string, words: string[] = []): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const line = cmdline(pid);
    if (
      line?.includes(dir) &&
      line.split(" ")[0]?.includes(program) &&
      words.every((w) => line.includes(w)) &&
      running(pid)
    )
      pids.push(pid);
  }
  return pids;
}

/**
 * How many guests those processes are. `qemu -daemonize` forks twice (os-posix.c os_daemonize):
 * the first process, a child of the agent (`launchers`), waits until the daemon is set up while
 * the middle one exits, so for a moment one guest is two processes. A copy is a process whose
 * parent is neither another of them nor a launcher: the daemon, reparented when the middle exits.
 */
export function copies(pids: readonly number[], launchers: readonly number[]): number {
  const skip = new Set([...pids, ...launchers]);
  return pids.filter((pid) => !skip.has(parentOf(pid) ?? 0)).length;
}

/** Every process of the host: its agent, its QEMUs, its disk bridges. */
export function hostPids(host: StorageHost): number[] {
  const agent = host.agent?.child.pid;
  return [
    ...(agent !== undefined && running(agent) ? [agent] : []),
    ...qemuPids(host),
    ...diskBridgePids(host),
  ];
}

/** Sends `signal` to each PID that still runs; returns those signalled. */
export function signalAll(pids: readonly number[], signal: NodeJS.Signals): number[] {
  const hit: number[] = [];
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
      hit.push(pid);
    } catch {
      // gone already
    }
  }
  return hit;
}
