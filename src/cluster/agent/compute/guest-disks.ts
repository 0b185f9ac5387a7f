/**
 * A compute host's view of its guests' AoE disks. With the kernel's `aoe` module (a Xen dom0, a
 * KVM host) a volume is the block device /dev/etherd/eS.L. Without it (this project's test
 * machine), each disk is served to QEMU by an `etherplane aoe nbd` process (the userspace
 * initiator's NBD bridge) on a Unix socket. Those processes are detached, with pid files, so
 * guests keep their disks while the agent restarts.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { EtherplaneError } from "../../../foundation/errors.js";
import type { Logger } from "../../../foundation/log.js";
import type { GuestDiskSource } from "../../../hypervisor/driver.js";
import type { DesiredDomainDisk } from "../../agent-protocol.js";

const READY_WAIT_MS = 15_000;
const POLL_MS = 50;
/** The CLI, next to this module in dist/. */
const CLI = fileURLToPath(new URL("../../../cli/main.js", import.meta.url));

export interface GuestDisksOptions {
  /** Folder for the bridges' sockets and pid files. */
  runDir: string;
  /** Interfaces the userspace initiator uses to reach the SAN. */
  sanInterfaces: readonly string[];
  /**
   * The NBD bridges' AoE request deadline (`aoe nbd --request-timeout-ms`; the bridge's default
   * when absent). A bridge keeps the deadline it was started with across agent restarts.
   */
  requestTimeoutMs?: number;
  /** Use /dev/etherd (the aoe module) even if... (default: when /sys/module/aoe exists). */
  kernelAoe?: boolean;
  log: Logger;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** What the compute reconciler needs of a host's guest disks. */
export interface GuestDiskAttacher {
  /** Makes the disk reachable on this host and says where the guest's bytes are. */
  attach(domainName: string, disk: DesiredDomainDisk): Promise<GuestDiskSource>;
  /** Releases what `attach` set up for the domain's disks. */
  detach(domainName: string): void;
}

export class GuestDisks implements GuestDiskAttacher {
  private readonly kernelAoe: boolean;

  constructor(private readonly options: GuestDisksOptions) {
    this.kernelAoe = options.kernelAoe ?? fs.existsSync("/sys/module/aoe");
    fs.mkdirSync(options.runDir, { recursive: true, mode: 0o700 });
  }

  get mode(): "kernel" | "nbd" {
    return this.kernelAoe ? "kernel" : "nbd";
  }

  /** Makes the disk reachable on this host and says where the guest's bytes are. */
  async attach(domainName: string, disk: DesiredDomainDisk): Promise<GuestDiskSource> {
    // The type says AoE; the JSON on the wire is checked too (desired-domain-check.ts).
    if ((disk as { kind: unknown }).kind !== "aoe")
      throw new EtherplaneError(
        "INVALID_ARGUMENT",
        `disk ${disk.vdev} is not an AoE volume: agents attach only etherplane volumes`,
      );
    const name = `e${disk.shelf}.${disk.slot}`;
    if (this.kernelAoe) return { kind: "path", path: await this.kernelDevice(name) };
    return { kind: "nbd", socketPath: await this.bridge(domainName, disk.vdev, name) };
  }

  /** Stops the bridges of a domain's disks (nothing to do for kernel devices). */
  detach(domainName: string): void {
    for (const file of this.pidFiles(domainName)) {
      const pid = Number(fs.readFileSync(file, "utf8"));
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) process.kill(pid, "SIGTERM");
      fs.rmSync(file, { force: true });
      fs.rmSync(file.replace(/\.pid$/, ".sock"), { force: true });
    }
  }

  private pidFiles(domainName: string): string[] {
    const prefix = `${domainName}--`;
    return fs
      .readdirSync(this.options.runDir)
      .filter((f) => f.startsWith(prefix) && f.endsWith(".pid"))
      .map((f) => path.join(this.options.runDir, f));
  }

  private async kernelDevice(name: string): Promise<string> {
    const device = `/dev/etherd/${name}`;
    const deadline = Date.now() + READY_WAIT_MS;
    let asked = false;
    while (Date.now() < deadline) {
      if (fs.existsSync(device) && this.sizeOf(name) > 0) return device;
      if (!asked) {
        // aoe-discover: the module broadcasts a query config on every interface it may use.
        fs.writeFileSync("/dev/etherd/discover", "1");
        asked = true;
      }
      await sleep(POLL_MS * 4);
    }
    throw new EtherplaneError(
      "UNAVAILABLE",
      `${device} did not appear within ${READY_WAIT_MS / 1000} s: is the volume exported and does it allow this host? (aoe-stat lists what the aoe module sees)`,
    );
  }

  private sizeOf(name: string): number {
    try {
      return Number(fs.readFileSync(`/sys/block/etherd!${name}/size`, "utf8"));
    } catch {
      return 0;
    }
  }

  private async bridge(domainName: string, vdev: string, device: string): Promise<string> {
    if (this.options.sanInterfaces.length === 0)
      throw new EtherplaneError(
        "UNAVAILABLE",
        "this host has no aoe module and the agent was given no SAN interface: start it with --san-interface IF",
      );
    const base = path.join(this.options.runDir, `${domainName}--${vdev}`);
    const socketPath = `${base}.sock`;
    const pidFile = `${base}.pid`;
    if (fs.existsSync(pidFile)) {
      const pid = Number(fs.readFileSync(pidFile, "utf8"));
      if (alive(pid) && fs.existsSync(socketPath)) return socketPath;
      fs.rmSync(pidFile, { force: true });
    }
    fs.rmSync(socketPath, { force: true });
    const args = [CLI, "aoe", "nbd", device, "--socket", socketPath];
    for (const iface of this.options.sanInterfaces) args.push("--iface", iface);
    if (this.options.requestTimeoutMs !== undefined)
      args.push("--request-timeout-ms", String(this.options.requestTimeoutMs));
    const log = fs.openSync(`${base}.log`, "a");
    const child = spawn(process.execPath, args, { detached: true, stdio: ["ignore", log, log] });
    fs.closeSync(log);
    child.unref();
    if (child.pid === undefined)
      throw new EtherplaneError("UNAVAILABLE", "cannot start the NBD bridge");
    fs.writeFileSync(pidFile, String(child.pid));
    let exited: number | null = null;
    child.once("exit", (code) => (exited = code ?? -1));
    const deadline = Date.now() + READY_WAIT_MS;
    while (Date.now() < deadline) {
      if (fs.existsSync(socketPath)) {
        this.options.log.info(`disk ${vdev} of ${domainName}: ${device} over NBD`, { socketPath });
        return socketPath;
      }
      if (exited !== null) break;
      await sleep(POLL_MS);
    }
    if (exited === null) process.kill(child.pid, "SIGTERM");
    fs.rmSync(pidFile, { force: true });
    const tail = fs.readFileSync(`${base}.log`, "utf8").trim().split("\n").slice(-3).join(" / ");
    throw new EtherplaneError(
      "UNAVAILABLE",
      `disk ${vdev}: volume ${device} cannot be reached from this host (${tail || "no answer"}); is it exported, and allowed for this host?`,
    );
  }
}
