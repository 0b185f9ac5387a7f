/**
 * The Xen driver: HypervisorDriver over the `xl` tool in dom0. Guests are xl domains, named as
 * in xl; they live in the hypervisor, so they outlive this process and a new driver finds them
 * with `xl list`. Every guest is created with on_poweroff/on_reboot/on_crash/on_watchdog =
 * "preserve" (guest-config.ts): a guest that stops by itself stays listed, shut down, and its
 * exit comes from the shutdown reason code `xl list -v` prints.
 *
 * Commands (xl(1)): create -q FILE, list -v [NAME], info, shutdown -F, reboot -F, destroy,
 * pause, unpause, console, migrate. `-F` falls back to the ACPI power/reset button for an HVM
 * guest without PV drivers. Operations on one name run one at a time. An act given the guest's
 * uuid first reads it with `xl list -v NAME` and then names the checked domid, never Domain-0.
 */
import { spawn } from "node:child_process";
import { access, mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { EtherplaneError, errorFields } from "../../foundation/errors.js";
import { KeyedLock } from "../../foundation/keyed-lock.js";
import { createLogger } from "../../foundation/log.js";
import type {
  GuestConsoleSession,
  GuestInfo,
  GuestSpec,
  HypervisorDriver,
  HypervisorHostInfo,
} from "../driver.js";
import type { GuestMigrator } from "../migration.js";
import {
  createCommandRunner,
  type CommandResult,
  type CommandRunner,
} from "../../host/command-runner.js";
import { ConsoleHub, type ConsoleSpawner } from "./console-hub.js";
import {
  XEN_TIMEOUTS_MS_DEFAULT,
  type XenDriverOptions,
  type XenMigrateOptions,
  type XenTimeoutsMs,
} from "./xen-driver-options.js";
import { buildGuestXlConfig } from "./guest-config.js";
import { checkGuestIdentity } from "../guest-identity.js";
import { checkGuestName } from "./guest-spec-checks.js";
import { childPath } from "../../foundation/contained-path.js";
import { parseXlInfo } from "./xl-info.js";
import { parseXlList, type XlListRow } from "./xl-list.js";
import { toGuestInfo } from "./guest-info.js";
import { xlFailure } from "./xl-errors.js";
import { shQuote, XenMigrator } from "./xen-migration.js";

const log = createLogger("hypervisor:xen");
/** The `xl migrate -s` helper beside this file (dist/ once built). */
const TRANSPORT_SCRIPT = new URL("./xl-migrate-transport.js", import.meta.url);

const CONSOLE_LOG_DIR_DEFAULT = "/var/log/xen/console";
const CONSOLE_HISTORY_BYTES_MAX = 64 * 1024;
const CONSOLE_SESSION_BUFFER_BYTES_MAX = 1024 * 1024;
const CONSOLE_ATTACH_WAIT_MS = 3000;
/** The replay is one pty read after another: a gap this long ends it (a loaded dom0 is slow). */
const CONSOLE_REPLAY_QUIET_MS = 1000;

export class XenDriver implements HypervisorDriver {
  readonly kind = "xen" as const;
  private readonly run: CommandRunner;
  private readonly xl: string;
  private readonly timeouts: XenTimeoutsMs;
  private readonly consoleLogDir: string | null;
  private readonly scriptPath: string | null;
  private readonly spawnConsole: ConsoleSpawner;
  private readonly consoleHistoryBytesMax: number;
  private readonly consoleAttachWaitMs: number;
  private readonly pathExists: (path: string) => Promise<boolean>;
  /** Per guest name, its operations one at a time. */
  private readonly queues = new KeyedLock({ what: "guest", param: "name" });
  private readonly consoles = new Map<string, Promise<ConsoleHub>>();
  /** Live migration with xl migrate over the agents' stream (xen-migration.ts). */
  readonly migration: GuestMigrator;

  constructor(private readonly options: XenDriverOptions) {
    this.run =
      options.run ??
      createCommandRunner({ missingHint: "install the Xen tools (xen-utils) or set the xl path" });
    this.xl = options.xlPath ?? "xl";
    this.timeouts = { ...XEN_TIMEOUTS_MS_DEFAULT, ...options.timeoutsMs };
    this.consoleLogDir =
      options.consoleLogDir === undefined ? CONSOLE_LOG_DIR_DEFAULT : options.consoleLogDir;
    this.scriptPath = options.scriptPath === undefined ? "script" : options.scriptPath;
    if (/['\0\n]/.test(this.xl)) {
      throw new EtherplaneError("INVALID_ARGUMENT", `xl path ${JSON.stringify(this.xl)}`);
    }
    this.spawnConsole =
      options.spawnConsole ??
      ((argv) => spawn(argv[0] as string, argv.slice(1), { stdio: "pipe" }));
    this.consoleHistoryBytesMax = options.consoleHistoryBytesMax ?? CONSOLE_HISTORY_BYTES_MAX;
    this.consoleAttachWaitMs = options.consoleAttachWaitMs ?? CONSOLE_ATTACH_WAIT_MS;
    this.pathExists =
      options.pathExists ??
      ((path) =>
        access(path).then(
          () => true,
          () => false,
        ));
    this.migration = new XenMigrator({
      xlPath: this.xl,
      transportCommand:
        options.transportCommand ??
        `${shQuote(process.execPath)} ${shQuote(fileURLToPath(TRANSPORT_SCRIPT))}`,
      migrationDir: options.migrationDir ?? join(options.stateDir, "migrate"),
      spawnMigration:
        options.spawnMigration ??
        ((argv) => spawn(argv[0] as string, argv.slice(1), { stdio: "pipe" })),
      queued: (name, operation) => this.queued(name, operation),
      findIdentified: (name, uuid, what) => this.findIdentified(name, uuid, what),
      findOrNull: (name) => this.findOrNull(name),
      checkHostHas: (spec) => this.checkHostHas(spec),
      writeConfig: async (name, text) => {
        await mkdir(this.options.stateDir, { recursive: true });
        await writeFile(this.configPath(name), text, { mode: 0o600 });
        return this.configPath(name);
      },
      existingConfig: async (name) =>
        (await this.pathExists(this.configPath(name))) ? this.configPath(name) : null,
      departed: async (name) => {
        await this.removeConfig(name);
        await this.stopConsole(name);
      },
      destroyDomid: async (domid, name) => {
        await this.xlOk(["destroy", String(domid)], this.timeouts.destroy, name);
      },
    });
  }

  async hostInfo(): Promise<HypervisorHostInfo> {
    const result = await this.xlOk(["info"], this.timeouts.info, "this host");
    const info = parseXlInfo(result.stdout);
    return {
      kind: "xen",
      version: info.xenVersion,
      detail: [info.virtCaps, info.scheduler && `scheduler ${info.scheduler}`]
        .filter((part) => part !== "")
        .join("; "),
      cpus: info.nrCpus,
      totalMemoryMiB: info.totalMemoryMiB,
      freeMemoryMiB: info.freeMemoryMiB,
    };
  }

  async list(): Promise<GuestInfo[]> {
    const result = await this.xlOk(["list", "-v"], this.timeouts.list, "this host");
    return parseXlList(result.stdout).map(toGuestInfo);
  }

  async create(spec: GuestSpec): Promise<GuestInfo> {
    // Builds and checks the file before queueing: a bad spec fails at once.
    const text = buildGuestXlConfig(spec);
    return this.queued(spec.name, async () => {
      await this.checkHostHas(spec);
      return this.createNow(spec.name, text);
    });
  }

  async shutdown(name: string, uuid?: string): Promise<void> {
    checkGuestName(name);
    return this.queued(name, async () => {
      const row = await this.findIdentified(name, uuid, "shutdown");
      // Already down: there is nothing to ask, and xl would wait 60 s for an answer.
      if (row.state.shutdown) return;
      await this.xlOk(["shutdown", "-F", target(row, uuid)], this.timeouts.shutdown, name);
    });
  }

  async reboot(name: string, uuid?: string): Promise<void> {
    checkGuestName(name);
    return this.queued(name, async () => {
      const row = await this.findIdentified(name, uuid, "reboot");
      if (row.state.shutdown) {
        throw new EtherplaneError(
          "CONFLICT",
          `guest ${name} is shut down (${row.exit ?? "suspended"}): destroy it and create it again`,
          { params: { name, state: row.stateText } },
        );
      }
      await this.xlOk(["reboot", "-F", target(row, uuid)], this.timeouts.reboot, name);
    });
  }

  async destroy(name: string, uuid?: string): Promise<void> {
    checkGuestName(name);
    return this.queued(name, async () => {
      // Without a uuid, by name as xl does (xl itself refuses Domain-0).
      const which =
        uuid === undefined ? name : target(await this.findIdentified(name, uuid, "destroy"), uuid);
      await this.xlOk(["destroy", which], this.timeouts.destroy, name);
      await this.removeConfig(name);
      await this.stopConsole(name);
    });
  }

  async pause(name: string, uuid?: string): Promise<void> {
    checkGuestName(name);
    return this.queued(name, async () => {
      const row = await this.findIdentified(name, uuid, "pause");
      // Xen counts pauses by the toolstack (unpause must match): pausing twice is not asked.
      if (row.state.paused) return;
      await this.xlQuietOk(["pause", target(row, uuid)], this.timeouts.pause, name);
    });
  }

  async unpause(name: string, uuid?: string): Promise<void> {
    checkGuestName(name);
    return this.queued(name, async () => {
      const row = await this.findIdentified(name, uuid, "unpause");
      if (!row.state.paused) return;
      await this.xlQuietOk(["unpause", target(row, uuid)], this.timeouts.pause, name);
    });
  }

  async console(name: string, uuid?: string): Promise<GuestConsoleSession> {
    checkGuestName(name);
    if (uuid !== undefined)
      await this.queued(name, () => this.findIdentified(name, uuid, "console"));
    for (;;) {
      const existing = this.consoles.get(name);
      if (existing === undefined) break;
      const hub = await existing.catch(() => undefined);
      if (hub !== undefined && !hub.closed) return hub.attach();
      // An ending xenconsole still holds the domain's lock; stop() bounds the wait.
      await hub?.waitExited();
      // A hub that failed or closed: replace it, unless a concurrent call already did.
      if (this.consoles.get(name) === existing) {
        this.consoles.delete(name);
        break;
      }
    }
    // No await from here to the map: concurrent calls share this hub rather than racing
    // xenconsole's per-domain lock.
    const slot: { started?: Promise<ConsoleHub> } = {};
    const forget = () => {
      if (this.consoles.get(name) === slot.started) this.consoles.delete(name);
    };
    const hub = new ConsoleHub({
      argv: this.consoleArgv(name),
      name,
      logPath:
        this.consoleLogDir === null
          ? null
          : childPath(this.consoleLogDir, name, { prefix: "guest-", suffix: ".log" }),
      spawn: this.spawnConsole,
      historyBytesMax: this.consoleHistoryBytesMax,
      sessionBufferBytesMax: CONSOLE_SESSION_BUFFER_BYTES_MAX,
      settleFirstMs: this.consoleAttachWaitMs,
      settleQuietMs: CONSOLE_REPLAY_QUIET_MS,
      settleMaxMs: this.consoleAttachWaitMs + 5000,
      exitGraceMs: 3000,
      onClosed: forget,
    });
    const first = hub.start();
    const started = first.then(() => hub);
    slot.started = started;
    this.consoles.set(name, started);
    started.catch(forget);
    return first;
  }

  /**
   * Live-migrates the guest to HOST with `xl migrate` (over ssh unless `sshCommand` says
   * otherwise); resolves once the guest runs there and is gone from here.
   */
  async migrate(name: string, host: string, options: XenMigrateOptions = {}): Promise<void> {
    checkGuestName(name);
    if (host === "" || host.startsWith("-") || /[\0\n]/.test(host) || host.length > 255) {
      throw new EtherplaneError("INVALID_ARGUMENT", `migration host ${JSON.stringify(host)}`);
    }
    const ssh = options.sshCommand === undefined ? [] : ["-s", options.sshCommand];
    return this.queued(name, async () => {
      await this.xlOk(["migrate", ...ssh, name, host], this.timeouts.migrate, name);
      await this.removeConfig(name);
      await this.stopConsole(name);
    });
  }

  /**
   * The bridges and disk paths the spec names must exist in dom0. xl finds out too, but a
   * missing bridge only when the vif hotplug script fails (seconds, ~45 s under TCG), and the
   * message then names a script rather than the bridge.
   */
  private async checkHostHas(spec: GuestSpec): Promise<void> {
    const missing: string[] = [];
    for (const vif of spec.vifs) {
      if (!(await this.pathExists(join("/sys/class/net", vif.bridge)))) {
        missing.push(`the bridge ${vif.bridge} does not exist on this host`);
      }
    }
    for (const disk of spec.disks) {
      if (disk.source.kind === "path" && !(await this.pathExists(disk.source.path))) {
        missing.push(`disk ${disk.vdev}: ${disk.source.path} does not exist on this host`);
      }
    }
    if (missing.length > 0) {
      throw new EtherplaneError("UNAVAILABLE", `guest ${spec.name}: ${missing.join("; ")}`, {
        params: { name: spec.name },
      });
    }
  }

  /** `script -q -e -c "'xl' console NAME" /dev/null`: NAME is checked, xl's path quoted. */
  private consoleArgv(name: string): string[] {
    if (this.scriptPath === null) return [this.xl, "console", name];
    return [this.scriptPath, "-q", "-e", "-c", `'${this.xl}' console ${name}`, "/dev/null"];
  }

  /** Ends the guest's console sessions: the domain they watched is gone from this host. */
  private async stopConsole(name: string): Promise<void> {
    const started = this.consoles.get(name);
    if (started === undefined) return;
    this.consoles.delete(name);
    const hub = await started.catch(() => undefined);
    await hub?.stop();
  }

  private async createNow(name: string, text: string): Promise<GuestInfo> {
    if ((await this.findOrNull(name)) !== null) {
      throw new EtherplaneError("CONFLICT", `a guest named ${name} already exists on this host`, {
        params: { name },
      });
    }
    await mkdir(this.options.stateDir, { recursive: true });
    const finalPath = this.configPath(name);
    // Until xl has the domain, the running guest of a racing creator keeps its own file.
    const newPath = `${finalPath}.new`;
    await writeFile(newPath, text, { mode: 0o600 });
    const argv = ["create", "-q", newPath];
    let result: CommandResult;
    try {
      result = await this.xlRun(argv, this.timeouts.create);
    } catch (error) {
      await this.cleanUpFailedCreate(name, newPath);
      throw error;
    }
    if (result.code !== 0) {
      const failure = xlFailure([this.xl, ...argv], result, name);
      if (failure.code === "CONFLICT") await rm(newPath, { force: true });
      else await this.cleanUpFailedCreate(name, newPath);
      throw failure;
    }
    await rename(newPath, finalPath);
    const row = await this.findOrNull(name);
    if (row === null) {
      throw new EtherplaneError("IO_ERROR", `guest ${name} was created but is not listed`, {
        params: { name },
      });
    }
    log.info("guest created", { name, domid: row.domid });
    return toGuestInfo(row);
  }

  /** xl destroys what it built when create fails; a timed-out create may leave a domain. */
  private async cleanUpFailedCreate(name: string, newPath: string): Promise<void> {
    await rm(newPath, { force: true });
    try {
      if ((await this.findOrNull(name)) === null) return;
      log.warn("destroying the remains of a failed create", { name });
      await this.xlOk(["destroy", name], this.timeouts.destroy, name);
    } catch (error) {
      log.error("could not clean up after a failed create", { name, ...errorFields(error) });
    }
  }

  private async find(name: string): Promise<XlListRow> {
    const row = await this.findOrNull(name);
    if (row === null) {
      throw new EtherplaneError("NOT_FOUND", `no guest ${name} on this host`, {
        params: { name },
      });
    }
    return row;
  }

  /** The guest's row, once its uuid is the expected one (guest-identity.ts). */
  private async findIdentified(
    name: string,
    uuid: string | undefined,
    what: string,
  ): Promise<XlListRow> {
    const row = await this.find(name);
    checkGuestIdentity(row, uuid, what);
    return row;
  }

  private async findOrNull(name: string): Promise<XlListRow | null> {
    const argv = ["list", "-v", name];
    const result = await this.xlRun(argv, this.timeouts.list);
    if (result.code !== 0) {
      const failure = xlFailure([this.xl, ...argv], result, name);
      if (failure.code === "NOT_FOUND") return null;
      throw failure;
    }
    return parseXlList(result.stdout).find((row) => row.name === name) ?? null;
  }

  private xlRun(argv: readonly string[], timeoutMs: number): Promise<CommandResult> {
    return this.run([this.xl, ...argv], { timeoutMs });
  }

  private async xlOk(
    argv: readonly string[],
    timeoutMs: number,
    subject: string,
  ): Promise<CommandResult> {
    const result = await this.xlRun(argv, timeoutMs);
    if (result.code !== 0) throw xlFailure([this.xl, ...argv], result, subject);
    return result;
  }

  /** `xl pause`/`unpause` exit 0 whatever libxl says (main_pause ignores it): read stderr. */
  private async xlQuietOk(argv: readonly string[], timeoutMs: number, subject: string) {
    const result = await this.xlOk(argv, timeoutMs, subject);
    if (/libxl: error/.test(result.stderr)) {
      throw xlFailure([this.xl, ...argv], { ...result, code: 1 }, subject);
    }
  }

  private configPath(name: string): string {
    return childPath(this.options.stateDir, name, { suffix: ".cfg" });
  }

  private async removeConfig(name: string): Promise<void> {
    await rm(this.configPath(name), { force: true });
  }

  /** Runs `operation` after every earlier operation on `name` has settled. */
  private queued<T>(name: string, operation: () => Promise<T>): Promise<T> {
    return this.queues.run(name, operation);
  }
}

/**
 * What to name in an act: the domid once the uuid was checked (a guest destroyed and recreated
 * by hand under the same name in between gets another domid, and xl then says it is not there),
 * else the name.
 */
function target(row: XlListRow, uuid: string | undefined): string {
  return uuid === undefined ? row.name : String(row.domid);
}
