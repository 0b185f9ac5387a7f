/**
 * Live migration with xl's own (`xl migrate` / `xl migrate-receive`, xl(1) and
 * tools/xl/xl_migrate.c), over the stream etherplane's agents get from the controller instead of
 * ssh between dom0s.
 *
 * Source: a Unix socket for this one migration in the driver's migration folder (0700, the
 * socket 0600, removed after), joined to the stream; then
 *   xl migrate [-C STATEDIR/NAME.cfg] -s "'node' 'xl-migrate-transport.js'" DOMID SOCKET
 * xl runs `exec node xl-migrate-transport.js SOCKET xl migrate-receive` and talks over its
 * stdin/stdout, which that helper joins to the socket. `-C` sends the configuration the agent
 * created the guest with (the controller's placed spec: phy:/dev/etherd/eS.L disks, vifs with
 * their MACs and bridges) rather than what libxl retrieved. The guest is named by the domid read
 * with its uuid checked, as every other act of the driver.
 * Destination: nothing starts ahead (xl migrate-receive creates the domain from the stream, as
 * NAME--incoming until the sender says go); `prepareIncoming` checks the bridges and disks and
 * that the name is free, and `receive` runs `xl migrate-receive` with its stdin/stdout on the
 * stream. Like `xl create`, it leaves xl's monitor daemon behind for the guest.
 *
 * Outcomes are xl's (xl-migrate-outcome.ts): a failure before the go resumes the guest here;
 * after it, xl says the state is undefined and leaves the source suspended as
 * NAME--migratedaway, never running both. Bounds: the transfer's time (the stream is cut at the
 * limit, so xl fails and resumes the guest itself; killing xl mid-suspend would not), the
 * stderr kept, the socket's one connection.
 */
import { randomBytes } from "node:crypto";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { chmod, mkdir, rm } from "node:fs/promises";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { EtherplaneError } from "../../foundation/errors.js";
import { createLogger } from "../../foundation/log.js";
import type { CommandResult } from "../../host/command-runner.js";
import type { GuestSpec } from "../driver.js";
import {
  MIGRATION_LIMITS_DEFAULT,
  type GuestMigrator,
  type IncomingGuest,
  type MigrationLimits,
  type MigrationProgress,
  type MigrationReport,
} from "../migration.js";
import { joinStreams } from "../join-streams.js";
import { buildGuestXlConfig } from "./guest-config.js";
import type { XlListRow } from "./xl-list.js";
import type { MigrationSpawner } from "./xen-driver-options.js";
import { toGuestInfo } from "./guest-info.js";
import { SOCKET_PATH_BYTES_MAX } from "./xl-migrate-transport.js";
import { receiveFailure, sendFailure, senderPhase, sendOutcome } from "./xl-migrate-outcome.js";

const log = createLogger("hypervisor:xen");

/** xl's stderr kept per migration (its messages are lines; libxc's debug output is not asked). */
const STDERR_BYTES_MAX = 64 * 1024;
/** How often the sender's progress is reported (bytes relayed so far). */
const PROGRESS_MS = 1000;
/** After the stream is cut, how long xl gets to resume the guest and exit before SIGKILL. */
const EXIT_GRACE_MS = 120_000;
/** The name xl gives the receiving domain until the sender's go (migrate_receive). */
export const INCOMING_SUFFIX = "--incoming";

/** What this module needs of the driver (xen-driver.ts). */
export interface XenMigrationHost {
  readonly xlPath: string;
  /** The -s command: the transport helper, quoted for sh. */
  readonly transportCommand: string;
  /** Where the one-use sockets go (created 0700). */
  readonly migrationDir: string;
  readonly spawnMigration: MigrationSpawner;
  queued<T>(name: string, operation: () => Promise<T>): Promise<T>;
  findIdentified(name: string, uuid: string | undefined, what: string): Promise<XlListRow>;
  findOrNull(name: string): Promise<XlListRow | null>;
  checkHostHas(spec: GuestSpec): Promise<void>;
  /** Writes NAME.cfg in the state folder (mode 0600); returns its path. */
  writeConfig(name: string, text: string): Promise<string>;
  /** NAME.cfg when the guest has one, else null. */
  existingConfig(name: string): Promise<string | null>;
  /** The guest left this host: its file and console go. */
  departed(name: string): Promise<void>;
  destroyDomid(domid: number, name: string): Promise<void>;
}

/** `'a'` for sh; the paths are ours, so a quote in one is refused rather than escaped. */
export function shQuote(word: string): string {
  if (/['\0\n]/.test(word))
    throw new EtherplaneError("INVALID_ARGUMENT", `cannot quote ${JSON.stringify(word)} for sh`);
  return `'${word}'`;
}

interface Exited {
  result: CommandResult;
}

/** Collects the process's stderr (bounded, lines to `onLine`) and resolves on its exit. */
function watch(child: ChildProcessWithoutNullStreams, onLine: (line: string) => void) {
  let stderr = "";
  let partial = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    if (stderr.length < STDERR_BYTES_MAX)
      stderr += chunk.slice(0, STDERR_BYTES_MAX - stderr.length);
    const lines = (partial + chunk).split("\n");
    partial = (lines.pop() ?? "").slice(-4096);
    for (const line of lines) onLine(line);
  });
  return new Promise<Exited>((resolve) => {
    child.once("error", (error) =>
      resolve({ result: { code: 127, stdout: "", stderr: `${stderr}\n${error.message}` } }),
    );
    child.once("exit", (code, signal) =>
      resolve({
        result: { code: code ?? (signal === null ? 1 : 128), stdout: "", stderr: stderr + partial },
      }),
    );
  });
}

/** Waits for `exited`; past `ms`, `cut()` and then a grace before SIGKILL. */
async function exitWithin(
  exited: Promise<Exited>,
  child: ChildProcessWithoutNullStreams,
  ms: number,
  cut: () => void,
): Promise<{ result: CommandResult; timedOut: boolean }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), ms)));
  const first = await Promise.race([exited, late]);
  clearTimeout(timer);
  if (first !== "late") return { result: first.result, timedOut: false };
  cut();
  const grace = new Promise<"late">(
    (resolve) => (timer = setTimeout(() => resolve("late"), EXIT_GRACE_MS)),
  );
  const second = await Promise.race([exited, grace]);
  clearTimeout(timer);
  if (second === "late") child.kill("SIGKILL");
  return { result: (await exited).result, timedOut: true };
}

/** How long an undefined outcome waits before it is reported (see sendNow). */
export const UNDEFINED_HOLD_MS = 30_000;

export class XenMigrator implements GuestMigrator {
  constructor(
    private readonly host: XenMigrationHost,
    private readonly undefinedHoldMs = UNDEFINED_HOLD_MS,
  ) {}

  async prepareIncoming(spec: GuestSpec): Promise<IncomingGuest> {
    // Builds and checks the file before anything else: a bad spec fails at once.
    const text = buildGuestXlConfig(spec);
    await this.host.queued(spec.name, async () => {
      await this.host.checkHostHas(spec);
      for (const name of [spec.name, spec.name + INCOMING_SUFFIX])
        if ((await this.host.findOrNull(name)) !== null)
          throw new EtherplaneError(
            "CONFLICT",
            `a guest named ${name} already exists on this host`,
            {
              params: { name: spec.name },
            },
          );
      // For the driver's later acts and the next migration (`-C`): the placed spec, as created.
      await this.host.writeConfig(spec.name, text);
    });
    let child: ChildProcessWithoutNullStreams | null = null;
    let exited: Promise<Exited> | null = null;
    return {
      receive: async (stream, limits = MIGRATION_LIMITS_DEFAULT) => {
        if (child !== null)
          throw new EtherplaneError("CONFLICT", `guest ${spec.name} is being received`);
        const argv = [this.host.xlPath, "migrate-receive"];
        child = this.host.spawnMigration(argv);
        exited = watch(child, (line) => log.debug("xl migrate-receive", { name: spec.name, line }));
        joinStreams({ readable: child.stdout, writable: child.stdin }, stream);
        const { result, timedOut } = await exitWithin(exited, child, limits.transferMsMax, () =>
          stream.destroy(),
        );
        if (timedOut)
          throw new EtherplaneError(
            "TIMEOUT",
            `guest ${spec.name}: its state did not arrive within ${limits.transferMsMax / 1000} s`,
          );
        // xl exits 0 also when it gave the guest back (migrate_receive's failure path).
        if (result.code !== 0 || /Failure, destroying our copy/.test(result.stderr))
          throw receiveFailure(argv, result, spec.name);
        const row = await this.host.findIdentified(spec.name, spec.uuid, "receive");
        log.info("guest arrived by migration", { name: spec.name, domid: row.domid });
        return toGuestInfo(row);
      },
      discard: async () => {
        if (
          child !== null &&
          exited !== null &&
          child.exitCode === null &&
          child.signalCode === null
        ) {
          // Without its stream xl fails the restore and destroys its copy; a kill is the bound.
          child.stdin.destroy();
          await exitWithin(exited, child, EXIT_GRACE_MS, () => child?.kill("SIGTERM"));
        }
        await this.host.queued(spec.name, async () => {
          for (const name of [spec.name + INCOMING_SUFFIX, spec.name]) {
            const row = await this.host.findOrNull(name);
            if (row === null || row.uuid?.toLowerCase() !== spec.uuid.toLowerCase()) continue;
            await this.host.destroyDomid(row.domid, spec.name);
          }
          await this.host.departed(spec.name);
        });
      },
    };
  }

  send(
    name: string,
    uuid: string,
    stream: Duplex,
    onProgress: (progress: MigrationProgress) => void,
    limits: MigrationLimits = MIGRATION_LIMITS_DEFAULT,
  ): Promise<MigrationReport> {
    return this.host.queued(name, () => this.sendNow(name, uuid, stream, onProgress, limits));
  }

  private async sendNow(
    name: string,
    uuid: string,
    stream: Duplex,
    onProgress: (progress: MigrationProgress) => void,
    limits: MigrationLimits,
  ): Promise<MigrationReport> {
    const startedMs = Date.now();
    const row = await this.host.findIdentified(name, uuid, "migrate");
    if (!row.state.running && !row.state.blocked)
      throw new EtherplaneError(
        "CONFLICT",
        `guest ${name} is not running (${row.stateText}): nothing to migrate live`,
        { params: { name, state: row.stateText } },
      );
    await mkdir(this.host.migrationDir, { recursive: true, mode: 0o700 });
    await chmod(this.host.migrationDir, 0o700);
    const socketPath = join(
      this.host.migrationDir,
      `out-${row.domid}-${randomBytes(6).toString("hex")}.sock`,
    );
    if (Buffer.byteLength(socketPath) > SOCKET_PATH_BYTES_MAX)
      throw new EtherplaneError(
        "INVALID_CONFIG",
        `the migration socket path ${socketPath} is longer than ${SOCKET_PATH_BYTES_MAX} bytes: give the agent a shorter state folder`,
      );
    let sentBytes = 0;
    let xlSide: Socket | undefined;
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      // One connection: the transport helper's. A second one is not ours to serve.
      if (xlSide) return socket.destroy();
      xlSide = socket;
      server.close();
      socket.on("data", (chunk: Buffer) => (sentBytes += chunk.length));
      joinStreams(socket, stream);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(socketPath, resolve);
    });
    const totalBytes = row.memoryMiB * 2 ** 20;
    const progress = setInterval(
      () =>
        onProgress({
          transferredBytes: sentBytes,
          // xl re-sends dirtied pages, so this is an estimate that floors at 0.
          remainingBytes: Math.max(0, totalBytes - sentBytes),
          totalBytes,
          dirtyPagesRate: 0,
          expectedDowntimeMs: null,
        }),
      PROGRESS_MS,
    );
    try {
      await chmod(socketPath, 0o600);
      const config = await this.host.existingConfig(name);
      const argv = [
        this.host.xlPath,
        "migrate",
        ...(config === null ? [] : ["-C", config]),
        "-s",
        this.host.transportCommand,
        String(row.domid),
        socketPath,
      ];
      const child = this.host.spawnMigration(argv);
      // xl waits for its transport child's stdin; nothing of ours goes to xl's own stdin.
      child.stdin.end();
      child.stdout.resume();
      const exited = watch(child, (line) => {
        const phase = senderPhase(line);
        if (phase !== null) log.info(`migration of ${name}: ${phase}`, { name });
      });
      // The stream going away (the controller aborted, the destination died) cuts xl's transport:
      // xl then fails and resumes the guest here by itself.
      stream.once("close", () => xlSide?.destroy());
      const { result, timedOut } = await exitWithin(exited, child, limits.transferMsMax, () => {
        stream.destroy();
        xlSide?.destroy();
      });
      const outcome = sendOutcome(result);
      if (outcome === "undefined")
        // The destination may run the guest now: its "running" report gets this long to reach the
        // controller before this side's failure does (the controller keeps the copy that runs).
        await new Promise((resolve) => setTimeout(resolve, this.undefinedHoldMs));
      if (outcome !== "moved") {
        const failure = sendFailure(argv, result, name);
        if (timedOut && failure.code !== "CONFLICT")
          throw new EtherplaneError(
            "TIMEOUT",
            `guest ${name}: the migration did not finish within ${limits.transferMsMax / 1000} s; ${failure.message}`,
            { params: failure.params, cause: failure },
          );
        throw failure;
      }
      await this.host.departed(name);
      const report: MigrationReport = {
        transferredBytes: sentBytes,
        totalTimeMs: Date.now() - startedMs,
        // xl does not measure the pause at switch-over.
        downtimeMs: null,
      };
      log.info("guest sent", { name, ...report });
      return report;
    } catch (error) {
      stream.destroy();
      throw error;
    } finally {
      clearInterval(progress);
      server.close();
      await rm(socketPath, { force: true });
    }
  }
}
