/**
 * The qemu driver: one daemonized `qemu-system-x86_64` per guest, managed through files in its
 * run directory (run-dir.ts) so that guests outlive the agent and a new driver instance picks
 * them up. Nothing is held in memory that a restart would lose: the guest's spec, domid and taps
 * are in its record, QEMU writes its own event journal (why a guest stopped) and console log.
 *
 * Exit reasons: QEMU runs with -no-shutdown -no-reboot -action panic=pause, so a guest that stops
 * by itself stays stopped in QEMU (runstate `shutdown` or `guest-panicked`) and the journal says
 * why (SHUTDOWN reason guest-shutdown / guest-reset, GUEST_PANICKED). Because QEMU writes the
 * journal itself, a reason is not missed while no agent runs. Remaining gaps: a guest that
 * triple-faults (no pvpanic report) looks like a reboot; a lost journal reads as a power-off; a
 * QEMU that died (killed, OOM) is reported as a crash.
 *
 * Requests: `shutdown` is the ACPI power button (QMP system_powerdown); `reboot` is Ctrl-Alt-Del
 * on the emulated keyboard (QMP send-key): the guest's init decides and reboots as a guest would,
 * which -no-reboot then turns into a stop with exit "reboot". QMP system_reset would reset the
 * machine under the guest's feet, which is a destroy-and-start, not a guest reboot. `destroy` is
 * QMP quit, then SIGKILL if QEMU lingers. `pause`/`unpause` are QMP stop/cont.
 *
 * Concurrency: calls on one guest are serialized in this instance (QEMU serves one QMP client at
 * a time; another instance's client waits in the socket backlog, within the QMP timeout). domids
 * are chosen under a per-instance lock; two agents creating guests on one host at the same
 * moment could pick the same domid (one agent per host is the model).
 */
import { constants } from "node:fs";
import { access, mkdir, open, rm, stat, writeFile, readFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { EtherplaneError, isEtherplaneError, errorFields } from "../../foundation/errors.js";
import { KeyedLock } from "../../foundation/keyed-lock.js";
import { createLogger } from "../../foundation/log.js";
import type {
  GuestConsoleSession,
  GuestInfo,
  GuestSpec,
  HypervisorDriver,
  HypervisorHostInfo,
} from "../driver.js";
import { resolveAccel, type AccelOption } from "./accel.js";
import { ConsoleHub } from "./console-hub.js";
import { checkGuestIdentity } from "../guest-identity.js";
import { guestCondition } from "./guest-status.js";
import { queryGuestUuid } from "./guest-uuid.js";
import { runHostCommand, type CommandContext } from "./host-command.js";
import { addTap, deleteTap, findBridge, tapName, type BridgeInfo } from "./host-net.js";
import { clockTicksPerS, parseProcStat } from "./proc-stat.js";
import { qemuArgv, type QemuAccel, type QemuDiskNode } from "./qemu-argv.js";
import { encodeQmpCommand, parseQmpTranscript } from "./qmp-codec.js";
import { withQmp, type QmpConnection } from "./qmp-client.js";
import {
  isQemuOf,
  listRunDirNames,
  livePid,
  readConsoleHistory,
  readExit,
  readJournalTail,
  readRecord,
  recordVersion,
  runDirOf,
  socketPathBytesMax,
  trimConsoleLog,
  writeExit,
  writeRecord,
  type GuestRecord,
  type RunDir,
} from "./run-dir.js";
import { validateGuestSpec } from "./spec-validation.js";
import { QemuMigrator, type QemuMigrationHost } from "./qemu-migration.js";
import type { GuestMigrator } from "../migration.js";

const log = createLogger("hypervisor:qemu");

export interface QemuDriverOptions {
  /** Per-guest run directories go here (`<stateDir>/<name>/`), e.g. /run/etherplane/qemu. */
  stateDir: string;
  /** The QEMU binary; `qemu-system-x86_64` (from PATH) by default. */
  qemuBinary?: string;
  /** "auto" (default): KVM when a probe shows it really works, else TCG (accel.ts). */
  accel?: AccelOption;
  /** Memory kept for the host itself, left out of `freeMemoryMiB`; 1024 MiB by default. */
  hostReserveMiB?: number;
  /** QEMU machine type; `pc` by default. */
  machine?: string;
  /**
   * A named network namespace (`ip netns`) in which taps are made and QEMU runs; the bridges
   * must be there. For tests; by default the driver's own namespace.
   */
  netns?: string;
  /** Bound on each QMP exchange (connect, greeting, each command); 5 s by default. */
  qmpTimeoutMs?: number;
  /** Bound on QEMU's start-up until it daemonizes; 60 s by default. */
  startTimeoutMs?: number;
  /** How long `destroy` lets QEMU quit before SIGKILL; 5 s by default. */
  quitTimeoutMs?: number;
  /** NBD disks: seconds QEMU waits for a restarted NBD server before failing I/O; 10. */
  nbdReconnectDelayS?: number;
}

const mib = 1024 * 1024;
const versionTimeoutMs = 10_000;
const killWaitMs = 5000;
const exitPollMs = 50;
const createLockKey = "\0create";
/** Xen's last ordinary domid: DOMID_FIRST_RESERVED (0x7FF0) - 1, xen/include/public/xen.h. */
const domidMax = 0x7fef;

type GuestLive = { record: GuestRecord; pid: number };

export class QemuDriver implements HypervisorDriver, QemuMigrationHost {
  readonly kind = "qemu" as const;
  readonly migration: GuestMigrator = new QemuMigrator(this);
  private readonly stateDir: string;
  private readonly qemuBinary: string;
  private readonly accelOption: AccelOption;
  private readonly hostReserveMiB: number;
  private readonly machine: string;
  private readonly context: CommandContext;
  private readonly qmpTimeoutMs: number;
  private readonly startTimeoutMs: number;
  private readonly quitTimeoutMs: number;
  private readonly nbdReconnectDelayS: number;
  private accel: Promise<QemuAccel> | undefined;
  private version: Promise<string> | undefined;
  private readonly locks = new KeyedLock({ what: "guest", param: "name" });
  private readonly hubs = new Map<string, ConsoleHub>();

  constructor(options: QemuDriverOptions) {
    if (!options.stateDir.startsWith("/") || /[,\0]/.test(options.stateDir)) {
      throw new EtherplaneError(
        "INVALID_ARGUMENT",
        `stateDir ${options.stateDir} must be an absolute path without commas`,
      );
    }
    this.stateDir = options.stateDir;
    this.qemuBinary = options.qemuBinary ?? "qemu-system-x86_64";
    this.accelOption = options.accel ?? "auto";
    this.hostReserveMiB = options.hostReserveMiB ?? 1024;
    this.machine = options.machine ?? "pc";
    this.context = { netns: options.netns };
    this.qmpTimeoutMs = options.qmpTimeoutMs ?? 5000;
    this.startTimeoutMs = options.startTimeoutMs ?? 60_000;
    this.quitTimeoutMs = options.quitTimeoutMs ?? 5000;
    this.nbdReconnectDelayS = options.nbdReconnectDelayS ?? 10;
    if (!/^[\w.-]+$/.test(this.machine)) {
      throw new EtherplaneError(
        "INVALID_ARGUMENT",
        `machine ${this.machine} is not a machine type name`,
      );
    }
  }

  async hostInfo(): Promise<HypervisorHostInfo> {
    const [version, accel, used] = await Promise.all([
      this.qemuVersion(),
      this.resolveAccel(),
      this.usedMemoryMiB(),
    ]);
    const totalMemoryMiB = Math.floor(totalmem() / mib);
    return {
      kind: "qemu",
      version,
      detail: accel,
      cpus: cpus().length,
      totalMemoryMiB,
      freeMemoryMiB: Math.max(0, totalMemoryMiB - this.hostReserveMiB - used),
    };
  }

  async list(): Promise<GuestInfo[]> {
    const names = await listRunDirNames(this.stateDir);
    const infos = await Promise.all(
      names.map((name) => this.withLock(name, () => this.observe(name))),
    );
    return infos.filter((info): info is GuestInfo => info !== undefined);
  }

  async create(spec: GuestSpec): Promise<GuestInfo> {
    validateGuestSpec(spec);
    return this.withLock(createLockKey, () =>
      this.withLock(spec.name, () => this.createLocked(spec)),
    );
  }

  /** A migration's destination: the guest started with `-incoming defer` (qemu-migration.ts). */
  async createIncoming(spec: GuestSpec): Promise<RunDir> {
    validateGuestSpec(spec);
    await this.withLock(createLockKey, () =>
      this.withLock(spec.name, () => this.createLocked(spec, true)),
    );
    return this.runDir(spec.name);
  }

  /**
   * One QMP exchange with the guest `name` of `uuid` (checked on the same connection), under the
   * guest's lock; CONFLICT when its QEMU is not running or it is another guest.
   */
  async qmp<T>(name: string, uuid: string, use: (qmp: QmpConnection) => Promise<T>): Promise<T> {
    return this.withLock(name, async () => {
      const live = await this.live(name);
      if (!live) throw new EtherplaneError("CONFLICT", `guest ${name}: its QEMU is not running`);
      return withQmp(this.runDir(name).qmpSocket, this.qmpTimeoutMs, async (qmp) => {
        const actual = await queryGuestUuid(qmp, this.qmpTimeoutMs);
        checkGuestIdentity({ name, domid: live.record.domid, uuid: actual }, uuid, "migrate");
        return use(qmp);
      });
    });
  }

  /** Whether the guest's QEMU process lives. */
  async alive(name: string): Promise<boolean> {
    return (await this.live(name).catch(() => undefined)) !== undefined;
  }

  get qmpCommandTimeoutMs(): number {
    return this.qmpTimeoutMs;
  }

  guestRunDir(name: string): RunDir {
    return this.runDir(name);
  }

  async shutdown(name: string, uuid?: string): Promise<void> {
    await this.withLock(name, async () => {
      await this.qmpRunning(name, uuid, "shutdown", (qmp) =>
        qmp.execute("system_powerdown", undefined, this.qmpTimeoutMs),
      );
    });
  }

  async reboot(name: string, uuid?: string): Promise<void> {
    const keys = ["ctrl", "alt", "delete"].map((data) => ({ type: "qcode", data }));
    await this.withLock(name, async () => {
      await this.qmpRunning(name, uuid, "reboot", (qmp) =>
        qmp.execute("send-key", { keys }, this.qmpTimeoutMs),
      );
    });
  }

  async pause(name: string, uuid?: string): Promise<void> {
    await this.withLock(name, async () => {
      await this.qmpRunning(name, uuid, "pause", (qmp) =>
        qmp.execute("stop", undefined, this.qmpTimeoutMs),
      );
    });
  }

  async unpause(name: string, uuid?: string): Promise<void> {
    await this.withLock(name, async () => {
      await this.qmpRunning(name, uuid, "unpause", (qmp) =>
        qmp.execute("cont", undefined, this.qmpTimeoutMs),
      );
    });
  }

  async destroy(name: string, uuid?: string): Promise<void> {
    await this.withLock(name, async () => {
      const run = this.runDir(name);
      if (!(await exists(run.dir))) throw notFound(name);
      const record = await readRecord(run);
      if (uuid !== undefined) await this.identify(name, uuid, "destroy");
      this.hubs.get(name)?.closeAll();
      this.hubs.delete(name);
      await this.stopQemu(run);
      for (const tap of record?.taps ?? []) await deleteTap(this.context, tap);
      await rm(run.dir, { recursive: true, force: true });
      log.info("guest destroyed", { name });
    });
  }

  async console(name: string, uuid?: string): Promise<GuestConsoleSession> {
    const run = await this.withLock(name, async () => {
      const live = await this.live(name);
      if (!live) throw new EtherplaneError("UNAVAILABLE", `guest ${name}: its QEMU is not running`);
      if (uuid !== undefined) await this.identify(name, uuid, "console");
      return this.runDir(name);
    });
    let hub = this.hubs.get(name);
    if (!hub) {
      hub = new ConsoleHub(run.consoleSocket, () => readConsoleHistory(run), this.qmpTimeoutMs);
      this.hubs.set(name, hub);
    }
    return hub.attach();
  }

  // ---- internals

  private runDir(name: string): RunDir {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) throw notFound(name);
    return runDirOf(this.stateDir, name);
  }

  private withLock<T>(key: string, body: () => Promise<T>): Promise<T> {
    return this.locks.run(key, body);
  }

  private resolveAccel(): Promise<QemuAccel> {
    this.accel ??= mkdir(this.stateDir, { recursive: true }).then(() =>
      resolveAccel(this.accelOption, this.qemuBinary, this.stateDir),
    );
    this.accel.catch(() => (this.accel = undefined));
    return this.accel;
  }

  private qemuVersion(): Promise<string> {
    this.version ??= runHostCommand(
      { netns: undefined },
      [this.qemuBinary, "--version"],
      versionTimeoutMs,
    ).then((result) => {
      const version = parseQemuVersion(result.stdout);
      if (result.code !== 0 || version === undefined) {
        throw new EtherplaneError(
          "UNAVAILABLE",
          `${this.qemuBinary} --version: ${result.stderr.trim() || result.stdout.trim()}`,
        );
      }
      return version;
    });
    this.version.catch(() => (this.version = undefined));
    return this.version;
  }

  /** Memory of every guest whose QEMU lives (a stopped guest's QEMU still holds its memory). */
  private async usedMemoryMiB(): Promise<number> {
    let used = 0;
    for (const name of await listRunDirNames(this.stateDir)) {
      const run = runDirOf(this.stateDir, name);
      const record = await readRecord(run);
      if (record && (await livePid(run)) !== undefined) used += record.spec.memoryMiB;
    }
    return used;
  }

  private async live(name: string): Promise<GuestLive | undefined> {
    const run = this.runDir(name);
    const record = await readRecord(run);
    if (!record) {
      if (await exists(run.dir)) return undefined;
      throw notFound(name);
    }
    const pid = await livePid(run);
    return pid === undefined ? undefined : { record, pid };
  }

  /**
   * CONFLICT unless the guest is the one with `uuid`: QEMU's own answer (query-uuid) while it
   * runs, the run directory's record once it has exited. A guest being created, or the debris of
   * a create that died, has no record: it is not the guest the caller started either.
   */
  private async identify(name: string, uuid: string, what: string): Promise<void> {
    const run = this.runDir(name);
    const record = await readRecord(run);
    let actual = record?.spec.uuid;
    if (record && (await livePid(run)) !== undefined) {
      actual = await withQmp(run.qmpSocket, this.qmpTimeoutMs, (qmp) =>
        queryGuestUuid(qmp, this.qmpTimeoutMs),
      );
    }
    checkGuestIdentity({ name, domid: record?.domid ?? -1, uuid: actual }, uuid, what);
  }

  /**
   * Runs a QMP request on a guest that has not stopped; CONFLICT when it has, or when it is not
   * the guest with `uuid` (asked on the same connection as the request).
   */
  private async qmpRunning(
    name: string,
    uuid: string | undefined,
    what: string,
    request: (qmp: QmpConnection) => Promise<unknown>,
  ): Promise<void> {
    const live = await this.live(name);
    if (!live)
      throw new EtherplaneError(
        "CONFLICT",
        `guest ${name} cannot ${what}: its QEMU is not running`,
      );
    await withQmp(this.runDir(name).qmpSocket, this.qmpTimeoutMs, async (qmp) => {
      if (uuid !== undefined) {
        const actual = await queryGuestUuid(qmp, this.qmpTimeoutMs);
        checkGuestIdentity({ name, domid: live.record.domid, uuid: actual }, uuid, what);
      }
      const status = statusOf(await qmp.execute("query-status", undefined, this.qmpTimeoutMs));
      if (status === "shutdown" || status === "guest-panicked" || status === "internal-error") {
        throw new EtherplaneError(
          "CONFLICT",
          `guest ${name} cannot ${what}: it has stopped (${status}); destroy it`,
        );
      }
      await request(qmp);
    });
  }

  private async observe(name: string): Promise<GuestInfo | undefined> {
    const run = runDirOf(this.stateDir, name);
    const record = await readRecord(run);
    if (!record) return undefined; // being created, or debris of a create that died: destroy cleans it
    const pid = await livePid(run);
    let status: string | undefined;
    let threadIds: number[] = [];
    // Which guest answers: QEMU's -uuid, else (exited, or silent) what the record asked for.
    let uuid = record.spec.uuid;
    if (pid !== undefined) {
      try {
        await withQmp(run.qmpSocket, this.qmpTimeoutMs, async (qmp) => {
          uuid = (await queryGuestUuid(qmp, this.qmpTimeoutMs)) ?? uuid;
          status = statusOf(await qmp.execute("query-status", undefined, this.qmpTimeoutMs));
          threadIds = threadIdsOf(
            await qmp.execute("query-cpus-fast", undefined, this.qmpTimeoutMs),
          );
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

  private async createLocked(spec: GuestSpec, incoming = false): Promise<GuestInfo> {
    const run = runDirOf(this.stateDir, spec.name);
    if (await exists(run.dir)) throw conflict(spec.name);
    if (Buffer.byteLength(run.consoleSocket) > socketPathBytesMax) {
      throw new EtherplaneError(
        "INVALID_ARGUMENT",
        `name ${spec.name} makes socket path ${run.consoleSocket} longer than ${socketPathBytesMax} bytes: use a shorter name or stateDir`,
      );
    }
    // Everything the spec needs from the host is checked before anything starts.
    const bridges = new Map<string, BridgeInfo>();
    for (const vif of spec.vifs) {
      if (!bridges.has(vif.bridge))
        bridges.set(vif.bridge, await findBridge(this.context, vif.bridge));
    }
    const disks = await Promise.all(spec.disks.map((disk) => resolveDisk(disk)));
    if (spec.boot.kind === "kernel") {
      await requireReadable(spec.boot.kernel, "kernel");
      if (spec.boot.ramdisk !== undefined) await requireReadable(spec.boot.ramdisk, "ramdisk");
    }
    const info = await this.hostInfo();
    if (spec.memoryMiB > info.freeMemoryMiB) {
      throw new EtherplaneError(
        "UNAVAILABLE",
        `guest ${spec.name} needs ${spec.memoryMiB} MiB; this host has ${info.freeMemoryMiB} MiB free for guests`,
        {
          params: { memoryMiB: spec.memoryMiB, freeMemoryMiB: info.freeMemoryMiB },
        },
      );
    }
    const accel = await this.resolveAccel();
    const domid = await this.freeDomid();
    const taps = spec.vifs.map((_, index) => tapName(domid, index));
    await mkdir(this.stateDir, { recursive: true });
    try {
      await mkdir(run.dir, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") throw conflict(spec.name);
      throw error;
    }
    const record: GuestRecord = {
      version: recordVersion,
      spec,
      domid,
      taps,
      accel,
      createdAtMs: Date.now(),
    };
    try {
      await writeRecord(run, record);
      for (const [index, vif] of spec.vifs.entries()) {
        const bridge = bridges.get(vif.bridge);
        if (!bridge || !taps[index]) throw new Error("bridge resolved above");
        await addTap(this.context, taps[index], bridge);
      }
      const argv = qemuArgv({
        spec,
        accel,
        machine: this.machine,
        paths: run,
        disks,
        nics: spec.vifs.map((vif, index) => ({
          tap: taps[index] ?? "",
          mac: vif.mac,
          mtu: bridges.get(vif.bridge)?.mtu ?? 1500,
        })),
        nbdReconnectDelayS: this.nbdReconnectDelayS,
        incoming,
      });
      await this.startQemu(run, argv);
      log.info(incoming ? "guest waiting for its migration" : "guest started", {
        name: spec.name,
        domid,
        accel,
      });
    } catch (error) {
      await this.cleanUpFailedCreate(run, taps);
      throw error;
    }
    const started = await this.observe(spec.name);
    if (!started)
      throw new EtherplaneError(
        "IO_ERROR",
        `guest ${spec.name} started but its record is unreadable`,
      );
    return started;
  }

  private async cleanUpFailedCreate(run: RunDir, taps: readonly string[]): Promise<void> {
    try {
      await this.stopQemu(run);
      for (const tap of taps) await deleteTap(this.context, tap);
      await rm(run.dir, { recursive: true, force: true });
    } catch (error) {
      log.error("cleanup after a failed create left something behind", {
        dir: run.dir,
        ...errorFields(error),
      });
    }
  }

  /**
   * Starts QEMU and waits until it daemonizes (its parent exits 0 once the machine is set up,
   * or non-zero with the reason on stderr). The event monitor's input FIFO is held open by us
   * until then, with `qmp_capabilities` in it: QEMU opens the FIFO read-write and keeps it, so
   * the line survives our close and QEMU reads it once its main loop runs.
   */
  private async startQemu(run: RunDir, argv: readonly string[]): Promise<void> {
    const fifo = await runHostCommand(
      { netns: undefined },
      ["mkfifo", "-m", "600", run.eventsIn],
      versionTimeoutMs,
    );
    if (fifo.code !== 0)
      throw new EtherplaneError("IO_ERROR", `mkfifo ${run.eventsIn}: ${fifo.stderr.trim()}`);
    await writeFile(run.eventsOut, "", { mode: 0o600 });
    const input = await open(run.eventsIn, constants.O_RDWR | constants.O_NONBLOCK);
    try {
      await input.write(encodeQmpCommand("qmp_capabilities"));
      // QEMU points the daemon's stdio at /dev/null before it lets the parent exit
      // (os-posix.c os_setup_post), so the run ends with the launching parent.
      const result = await runHostCommand(
        this.context,
        [this.qemuBinary, ...argv],
        this.startTimeoutMs,
      );
      if (result.code !== 0) {
        throw new EtherplaneError(
          "UNAVAILABLE",
          `QEMU did not start (exit ${result.code}): ${result.stderr.trim()}`,
          {
            params: { argv },
          },
        );
      }
    } finally {
      await input.close();
    }
    if ((await livePid(run)) === undefined) {
      throw new EtherplaneError(
        "IO_ERROR",
        `QEMU daemonized but ${run.pidFile} names no live QEMU`,
      );
    }
  }

  /** Quits QEMU (QMP quit, then SIGKILL) and waits until it is gone. */
  private async stopQemu(run: RunDir): Promise<void> {
    const pid = await livePid(run);
    if (pid === undefined) return;
    let unanswered = false;
    await withQmp(run.qmpSocket, Math.min(this.qmpTimeoutMs, this.quitTimeoutMs), (qmp) =>
      qmp.execute("quit", undefined, this.qmpTimeoutMs),
    ).catch((error: unknown) => {
      // The connection may close before the reply: QEMU is on its way out.
      if (isEtherplaneError(error, "UNAVAILABLE")) return;
      // No reply at all: QEMU is stuck, typically draining writes to a disk that no longer
      // answers (a host fenced at the storage). Waiting longer only keeps a stale guest alive.
      unanswered = isEtherplaneError(error, "TIMEOUT");
      log.warn("QMP quit failed", { dir: run.dir, ...errorFields(error) });
    });
    if (!unanswered && (await waitGone(pid, run, this.quitTimeoutMs))) return;
    log.warn("QEMU did not quit: killing it", { pid, dir: run.dir });
    try {
      process.kill(pid, "SIGKILL");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
    }
    if (!(await waitGone(pid, run, killWaitMs))) {
      throw new EtherplaneError("IO_ERROR", `QEMU ${pid} survived SIGKILL for ${killWaitMs} ms`);
    }
  }

  /**
   * The next domid after the last one given, as Xen counts: a restarted guest gets a new one, so
   * an administrator sees the restart in `list`. The last one given is kept in the state dir.
   */
  private async freeDomid(): Promise<number> {
    const used = new Set<number>();
    for (const name of await listRunDirNames(this.stateDir)) {
      const record = await readRecord(runDirOf(this.stateDir, name));
      if (record) used.add(record.domid);
    }
    const counter = join(this.stateDir, ".last-domid");
    const last = Number(await readFile(counter, "utf8").catch(() => "0"));
    const start = Number.isInteger(last) && last >= 0 && last < domidMax ? last : 0;
    for (let step = 1; step <= domidMax; step += 1) {
      const domid = ((start + step - 1) % domidMax) + 1;
      if (used.has(domid)) continue;
      await writeFile(counter, String(domid));
      return domid;
    }
    throw new EtherplaneError("UNAVAILABLE", `no free domid up to ${domidMax}`);
  }
}

/** "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)" -> "7.2.22". */
export function parseQemuVersion(text: string): string | undefined {
  return /QEMU emulator version (\d+\.\d+(?:\.\d+)?)/.exec(text)?.[1];
}

function statusOf(value: unknown): string | undefined {
  const status = (value as { status?: unknown } | null)?.status;
  return typeof status === "string" ? status : undefined;
}

function threadIdsOf(value: unknown): number[] {
  if (!Array.isArray(value)) return [];
  return value
    .map((cpu) => (cpu as { "thread-id"?: unknown } | null)?.["thread-id"])
    .filter(
      (tid): tid is number => typeof tid === "number" && Number.isSafeInteger(tid) && tid > 0,
    );
}

function notFound(name: string): EtherplaneError {
  return new EtherplaneError("NOT_FOUND", `no guest ${name} on this host`, { params: { name } });
}

function conflict(name: string): EtherplaneError {
  return new EtherplaneError("CONFLICT", `a guest named ${name} already exists on this host`, {
    params: { name },
  });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function requireReadable(path: string, what: string): Promise<void> {
  await access(path, constants.R_OK).catch((error: unknown) => {
    throw new EtherplaneError("UNAVAILABLE", `${what} ${path} is not readable on this host`, {
      cause: error,
    });
  });
}

async function resolveDisk(disk: GuestSpec["disks"][number]): Promise<QemuDiskNode> {
  const { vdev, readOnly, source } = disk;
  if (source.kind === "nbd") {
    const info = await stat(source.socketPath).catch(() => undefined);
    if (!info?.isSocket()) {
      throw new EtherplaneError(
        "UNAVAILABLE",
        `disk ${vdev}: NBD socket ${source.socketPath} does not exist (is the volume's NBD bridge running?)`,
      );
    }
    return { driver: "nbd", socketPath: source.socketPath, readOnly, vdev };
  }
  const info = await stat(source.path).catch(() => undefined);
  if (info?.isBlockDevice()) return { driver: "host_device", path: source.path, readOnly, vdev };
  if (info?.isFile()) return { driver: "file", path: source.path, readOnly, vdev };
  throw new EtherplaneError(
    "UNAVAILABLE",
    `disk ${vdev}: ${source.path} is ${info ? "neither a block device nor a file" : "missing on this host"}`,
  );
}

async function waitGone(pid: number, run: RunDir, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await isQemuOf(pid, run)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, exitPollMs));
  }
  return true;
}
