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
 *
 * This file is the façade; each concern has a file of its own: guest-create.ts (host checks,
 * run directory, taps, start), qemu-process.ts (start and stop of the QEMU process),
 * guest-observation.ts (state, exit reason, CPU time), domid-allocator.ts, qemu-version.ts,
 * qmp-replies.ts (fields of QMP replies), disk-source.ts (which block driver serves a disk).
 */
import { mkdir, rm } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { EtherplaneError } from "../../foundation/errors.js";
import { KeyedLock } from "../../foundation/keyed-lock.js";
import { createLogger } from "../../foundation/log.js";
import type {
  GuestConsoleSession,
  GuestInfo,
  GuestSpec,
  HypervisorDriver,
  HypervisorHostInfo,
} from "../driver.js";
import { checkGuestIdentity } from "../guest-identity.js";
import type { GuestMigrator } from "../migration.js";
import { resolveAccel, type AccelOption } from "./accel.js";
import { ConsoleHub } from "./console-hub.js";
import { createGuest, type GuestCreateHost } from "./guest-create.js";
import { observeGuest, usedMemoryMiB } from "./guest-observation.js";
import { queryGuestUuid } from "./guest-uuid.js";
import { deleteTap } from "./host-net.js";
import type { QemuAccel } from "./qemu-argv.js";
import { QemuMigrator, type QemuMigrationHost } from "./qemu-migration.js";
import { stopQemu, type QemuProcessOptions } from "./qemu-process.js";
import { probeQemuVersion } from "./qemu-version.js";
import { withQmp, type QmpConnection } from "./qmp-client.js";
import { runStatusOf } from "./qmp-replies.js";
import {
  listRunDirNames,
  livePid,
  readConsoleHistory,
  readRecord,
  runDirExists,
  runDirOf,
  type GuestRecord,
  type RunDir,
} from "./run-dir.js";
import { validateGuestSpec } from "./spec-validation.js";

export { parseQemuVersion } from "./qemu-version.js";

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
const createLockKey = "\0create";

type GuestLive = { record: GuestRecord; pid: number };

export class QemuDriver implements HypervisorDriver, QemuMigrationHost {
  readonly kind = "qemu" as const;
  readonly migration: GuestMigrator = new QemuMigrator(this);
  private readonly stateDir: string;
  private readonly qemuBinary: string;
  private readonly accelOption: AccelOption;
  private readonly hostReserveMiB: number;
  private readonly qmpTimeoutMs: number;
  private readonly process: QemuProcessOptions;
  private readonly createHost: GuestCreateHost;
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
    const machine = options.machine ?? "pc";
    this.qmpTimeoutMs = options.qmpTimeoutMs ?? 5000;
    this.process = {
      qemuBinary: this.qemuBinary,
      context: { netns: options.netns },
      startTimeoutMs: options.startTimeoutMs ?? 60_000,
      qmpTimeoutMs: this.qmpTimeoutMs,
      quitTimeoutMs: options.quitTimeoutMs ?? 5000,
    };
    this.createHost = {
      stateDir: this.stateDir,
      machine,
      nbdReconnectDelayS: options.nbdReconnectDelayS ?? 10,
      process: this.process,
      hostInfo: () => this.hostInfo(),
      resolveAccel: () => this.resolveAccel(),
    };
    if (!/^[\w.-]+$/.test(machine)) {
      throw new EtherplaneError(
        "INVALID_ARGUMENT",
        `machine ${machine} is not a machine type name`,
      );
    }
  }

  async hostInfo(): Promise<HypervisorHostInfo> {
    const [version, accel, used] = await Promise.all([
      this.qemuVersion(),
      this.resolveAccel(),
      usedMemoryMiB(this.stateDir),
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
      names.map((name) =>
        this.withLock(name, () => observeGuest(this.stateDir, name, this.qmpTimeoutMs)),
      ),
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
      if (!(await runDirExists(run))) throw notFound(name);
      const record = await readRecord(run);
      if (uuid !== undefined) await this.identify(name, uuid, "destroy");
      this.hubs.get(name)?.closeAll();
      this.hubs.delete(name);
      await stopQemu(this.process, run);
      for (const tap of record?.taps ?? []) await deleteTap(this.process.context, tap);
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
    this.version ??= probeQemuVersion(this.qemuBinary);
    this.version.catch(() => (this.version = undefined));
    return this.version;
  }

  private async live(name: string): Promise<GuestLive | undefined> {
    const run = this.runDir(name);
    const record = await readRecord(run);
    if (!record) {
      if (await runDirExists(run)) return undefined;
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
      const status = runStatusOf(await qmp.execute("query-status", undefined, this.qmpTimeoutMs));
      if (status === "shutdown" || status === "guest-panicked" || status === "internal-error") {
        throw new EtherplaneError(
          "CONFLICT",
          `guest ${name} cannot ${what}: it has stopped (${status}); destroy it`,
        );
      }
      await request(qmp);
    });
  }

  private async createLocked(spec: GuestSpec, incoming = false): Promise<GuestInfo> {
    await createGuest(this.createHost, spec, incoming);
    const started = await observeGuest(this.stateDir, spec.name, this.qmpTimeoutMs);
    if (!started)
      throw new EtherplaneError(
        "IO_ERROR",
        `guest ${spec.name} started but its record is unreadable`,
      );
    return started;
  }
}

function notFound(name: string): EtherplaneError {
  return new EtherplaneError("NOT_FOUND", `no guest ${name} on this host`, { params: { name } });
}
