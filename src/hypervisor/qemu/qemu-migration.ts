/**
 * Live migration with QEMU's own migration (docs/devel/migration in QEMU's tree): the destination
 * starts with `-incoming defer` and listens (QMP `migrate-incoming`) on a Unix socket in its run
 * directory; the source sends (QMP `migrate`) to a Unix socket in its run directory on which this
 * module listens. Each side joins its socket to the stream the caller gives (etherplane's agents
 * pipe the two through the controller), so QEMU never opens a TCP port and every URI it gets is
 * built here from the run directory's path.
 *
 * Progress comes from `query-migrate` (migrate-status.ts), polled with a fresh QMP connection each
 * time under the guest's lock (QEMU serves one QMP client at a time). When the transfer fails or
 * runs past its limit, the source is told `migrate_cancel` and QEMU resumes the guest there; a
 * destination whose incoming migration fails exits by itself (QEMU's rule), and `discard` cleans
 * up what is left.
 */
import * as fs from "node:fs";
import { createServer, connect, type Socket } from "node:net";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { EtherplaneError } from "../../foundation/errors.js";
import { createLogger } from "../../foundation/log.js";
import type { GuestInfo, GuestSpec } from "../driver.js";
import { joinStreams } from "../join-streams.js";
import {
  MIGRATION_LIMITS_DEFAULT,
  type GuestMigrator,
  type IncomingGuest,
  type MigrationLimits,
  type MigrationProgress,
  type MigrationReport,
} from "../migration.js";
import { parseMigrateStatus } from "./migrate-status.js";
import type { QmpConnection } from "./qmp-client.js";
import { runStatusOf } from "./qmp-replies.js";
import type { RunDir } from "./run-dir.js";

const log = createLogger("hypervisor:qemu");
const POLL_MS = 200;

/** What this module needs of the driver (qemu-driver.ts). */
export interface QemuMigrationHost {
  createIncoming(spec: GuestSpec): Promise<RunDir>;
  qmp<T>(name: string, uuid: string, use: (qmp: QmpConnection) => Promise<T>): Promise<T>;
  alive(name: string): Promise<boolean>;
  list(): Promise<GuestInfo[]>;
  destroy(name: string, uuid?: string): Promise<void>;
  guestRunDir(name: string): RunDir;
  readonly qmpCommandTimeoutMs: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function migrationSockets(run: RunDir): { incoming: string; outgoing: string } {
  return {
    incoming: join(run.dir, "migrate-in.sock"),
    outgoing: join(run.dir, "migrate-out.sock"),
  };
}

export class QemuMigrator implements GuestMigrator {
  constructor(private readonly host: QemuMigrationHost) {}

  async prepareIncoming(spec: GuestSpec): Promise<IncomingGuest> {
    const run = await this.host.createIncoming(spec);
    const socketPath = migrationSockets(run).incoming;
    const discard = async () => {
      await this.host.destroy(spec.name, spec.uuid).catch((error: unknown) => {
        if (!(error instanceof EtherplaneError && error.code === "NOT_FOUND")) throw error;
      });
    };
    try {
      await this.host.qmp(spec.name, spec.uuid, (qmp) =>
        qmp.execute(
          "migrate-incoming",
          { uri: `unix:${socketPath}` },
          this.host.qmpCommandTimeoutMs,
        ),
      );
    } catch (error) {
      await discard();
      throw error;
    }
    return {
      receive: (stream, limits) => this.receive(spec, socketPath, stream, limits),
      discard,
    };
  }

  private async receive(
    spec: GuestSpec,
    socketPath: string,
    stream: Duplex,
    limits: MigrationLimits = MIGRATION_LIMITS_DEFAULT,
  ): Promise<GuestInfo> {
    const socket: Socket = connect(socketPath);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    }).catch((cause: unknown) => {
      stream.destroy();
      throw new EtherplaneError(
        "UNAVAILABLE",
        `guest ${spec.name}: QEMU does not listen for its state`,
        {
          cause,
        },
      );
    });
    joinStreams(socket, stream);
    const deadline = Date.now() + limits.transferMsMax;
    for (;;) {
      // The incoming QEMU exits when the migration fails (QEMU's rule on the destination).
      if (!(await this.host.alive(spec.name)))
        throw new EtherplaneError(
          "UNAVAILABLE",
          `guest ${spec.name}: the incoming migration failed (QEMU exited)`,
        );
      const status = await this.host
        .qmp(spec.name, spec.uuid, async (qmp) =>
          runStatusOf(await qmp.execute("query-status", undefined, this.host.qmpCommandTimeoutMs)),
        )
        .catch(() => undefined);
      if (status === "running") break;
      if (Date.now() > deadline) {
        socket.destroy();
        throw new EtherplaneError(
          "TIMEOUT",
          `guest ${spec.name}: its state did not arrive within ${limits.transferMsMax / 1000} s`,
        );
      }
      await sleep(POLL_MS);
    }
    const guest = (await this.host.list()).find((g) => g.name === spec.name);
    if (!guest)
      throw new EtherplaneError("IO_ERROR", `guest ${spec.name} arrived but is not listed`);
    log.info("guest arrived by migration", { name: spec.name, domid: guest.domid });
    return guest;
  }

  async send(
    name: string,
    uuid: string,
    stream: Duplex,
    onProgress: (progress: MigrationProgress) => void,
    limits: MigrationLimits = MIGRATION_LIMITS_DEFAULT,
  ): Promise<MigrationReport> {
    const run = this.host.guestRunDir(name);
    const socketPath = migrationSockets(run).outgoing;
    fs.rmSync(socketPath, { force: true });
    let qemuSide: Socket | undefined;
    const server = createServer((socket) => {
      // One connection: QEMU's. A second one is not ours to serve.
      if (qemuSide) return socket.destroy();
      qemuSide = socket;
      joinStreams(socket, stream);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(socketPath, resolve);
    });
    fs.chmodSync(socketPath, 0o600);
    const timeoutMs = this.host.qmpCommandTimeoutMs;
    const cancel = () =>
      this.host
        .qmp(name, uuid, (qmp) => qmp.execute("migrate_cancel", undefined, timeoutMs))
        .catch((error: unknown) =>
          log.warn("migrate_cancel failed", { name, error: String(error) }),
        );
    // The stream going away ends QEMU's socket too, so QEMU fails the migration (and resumes).
    stream.once("close", () => qemuSide?.destroy());
    try {
      await this.host.qmp(name, uuid, async (qmp) => {
        await qmp.execute(
          "migrate-set-parameters",
          { "downtime-limit": limits.downtimeMsMax, "max-bandwidth": limits.bandwidthBytesPerSMax },
          timeoutMs,
        );
        await qmp.execute("migrate", { uri: `unix:${socketPath}` }, timeoutMs);
      });
      const deadline = Date.now() + limits.transferMsMax;
      for (;;) {
        await sleep(POLL_MS);
        const reply = await this.host.qmp(name, uuid, (qmp) =>
          qmp.execute("query-migrate", undefined, timeoutMs),
        );
        const status = parseMigrateStatus(reply);
        if (status.state === "completed") {
          log.info("guest sent", { name, ...status.report });
          return status.report;
        }
        if (status.state === "failed")
          throw new EtherplaneError(
            "UNAVAILABLE",
            `guest ${name}: ${status.error ?? "migration failed"}; it runs on here`,
          );
        if (status.state === "running") onProgress(status.progress);
        if (Date.now() > deadline) {
          await cancel();
          throw new EtherplaneError(
            "TIMEOUT",
            `guest ${name}: the migration did not finish within ${limits.transferMsMax / 1000} s; cancelled, it runs on here`,
          );
        }
      }
    } catch (error) {
      stream.destroy();
      throw error;
    } finally {
      server.close();
      fs.rmSync(socketPath, { force: true });
    }
  }
}
