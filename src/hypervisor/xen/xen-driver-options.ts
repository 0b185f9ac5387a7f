/** What a XenDriver is given: where its files go, how it runs xl, and its bounds. */
import type { CommandRunner } from "../../host/command-runner.js";
import type { ConsoleSpawner } from "./console-hub.js";
import type { ChildProcessWithoutNullStreams } from "node:child_process";

export interface XenTimeoutsMs {
  list: number;
  info: number;
  /** Hotplug scripts run for every disk and vif: seconds each on a busy dom0. */
  create: number;
  /** libxl waits up to 60 s for the guest to acknowledge (pvcontrol_cb). */
  shutdown: number;
  reboot: number;
  /** Waits for the backends to tear down and the hotplug scripts to run. */
  destroy: number;
  pause: number;
  migrate: number;
}

export const XEN_TIMEOUTS_MS_DEFAULT: Readonly<XenTimeoutsMs> = {
  list: 30_000,
  info: 30_000,
  create: 300_000,
  shutdown: 90_000,
  reboot: 90_000,
  destroy: 120_000,
  pause: 30_000,
  migrate: 3_600_000,
};

export interface XenDriverOptions {
  /** Folder for the per-guest xl.cfg files (`<stateDir>/<name>.cfg`), created when missing. */
  stateDir: string;
  /** Runs xl; the default spawns it with the call's timeout. */
  run?: CommandRunner;
  /** The xl binary (default "xl", found on PATH). */
  xlPath?: string;
  /**
   * xenconsoled's log folder (`xenconsoled --log=guest`, Debian's default
   * /var/log/xen/console): a console's history comes from `guest-NAME.log` there. null: none.
   */
  consoleLogDir?: string | null;
  /**
   * util-linux `script` (Debian's essential bsdutils), which gives `xl console` the terminal
   * xenconsole needs before it forwards input (console-hub.ts). Default "script" on PATH; null
   * runs `xl console` on plain pipes: output only.
   */
  scriptPath?: string | null;
  /** Starts the console command; the default spawns it with pipes. */
  spawnConsole?: ConsoleSpawner;
  timeoutsMs?: Partial<XenTimeoutsMs>;
  /**
   * Whether a host path exists (a bridge under /sys/class/net, a disk); the default asks the
   * file system. create checks the spec's bridges and disks with it before running xl.
   */
  pathExists?: (path: string) => Promise<boolean>;
  /** Bytes of console history handed to a new session (default 64 KiB). */
  consoleHistoryBytesMax?: number;
  /**
   * How long a first console attach waits for xenconsole to replay what the guest printed while
   * nobody read, so that it is history and not live output (default 3 s; a guest with nothing
   * unread makes the attach take that long). Later sessions of the same guest attach at once.
   */
  consoleAttachWaitMs?: number;
  /** Where live migration's one-use Unix sockets go (default STATEDIR/migrate, made 0700). */
  migrationDir?: string;
  /**
   * The `xl migrate -s` command, for sh (default: this Node.js running xl-migrate-transport.js
   * beside the driver). xl appends the socket path and `xl migrate-receive`.
   */
  transportCommand?: string;
  /** Starts `xl migrate` / `xl migrate-receive` with pipes; the default spawns it. */
  spawnMigration?: MigrationSpawner;
}

export interface XenMigrateOptions {
  /**
   * xl's `-s`: the command used instead of ssh to reach HOST (passed to sh); "" runs HOST itself
   * as the command, as `xl migrate -s "" NAME "xl migrate-receive"` does for a local test.
   */
  sshCommand?: string;
}

/** Starts a process with pipes (xl migrate / migrate-receive); tests pass a fake. */
export type MigrationSpawner = (argv: readonly string[]) => ChildProcessWithoutNullStreams;
