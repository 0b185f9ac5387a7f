/**
 * `etherplane aoe serve`: the AoE target. A config file (JSON, see src/aoe/target/config.ts) or
 * the one-liner form. SIGTERM/SIGINT drain in-flight I/O and exit; SIGHUP reloads the config file
 * (a bad one is reported and changes nothing); SIGUSR1 logs the counters. The counters are also
 * written every 2 s to STATE_DIR/stats.json for `etherplane aoe stats`. At start and on SIGHUP the
 * exports' access restrictions (MAC mask lists, reservations) are logged; `--reset-state` clears
 * persisted state before serving. `--workers N` runs the target on N threads, exports sharded
 * between them (serve-workers.ts).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { openFileBlockDevice } from "../../block/file/file-block-device.js";
import { errorMessage, EtherplaneError } from "../../foundation/errors.js";
import { createLogger, type Logger } from "../../foundation/log.js";
import { openAfPacketSocket } from "../../net/raw-socket/af-packet.js";
import { AOE_ETHERTYPE } from "../../aoe/codec/header.js";
import { AoeTarget, type TargetStats } from "../../aoe/target/aoe-target.js";
import { describeBacking } from "../../aoe/target/backing.js";
import {
  exportKey,
  parseAddress,
  parseTargetConfig,
  parseTargetConfigText,
  type TargetConfig,
} from "../../aoe/target/config.js";
import { FileExportStateStore } from "../../aoe/target/export-state.js";
import { describeRestriction, describeRestrictions } from "../../aoe/target/restrictions.js";
import { macToString } from "../../aoe/codec/index.js";
import { TARGET_WORKERS_MAX } from "../../aoe/target/shard-filter.js";
import { parse, stringList, usageError } from "../args.js";
import { TargetWorkers } from "./serve-workers.js";

const usage =
  "etherplane aoe serve --config FILE\n" +
  "       etherplane aoe serve --iface IF [--iface IF2] --export S.L=PATH [--export S.L=PATH...]\n" +
  "                            [--read-only S.L] [--durable S.L|all] [--state-dir DIR] [--buffer-count N]\n" +
  "       either form: [--reset-state S.L|all] (clear persisted MAC masks, reservations, config strings)\n" +
  "                    [--workers N] (threads, exports sharded between them; default 1)\n" +
  "                    [--no-fast-path] (every frame through TypeScript; also ETHERPLANE_AOE_FAST_PATH=0)";

const STATS_INTERVAL_MS = 2000;

/** Builds the config object of the one-liner form; validated like a config file. */
export function quickConfig(values: {
  iface: string[];
  export: string[];
  readOnly: string[];
  durable: string[];
  stateDir?: string;
  bufferCount?: string;
}): TargetConfig {
  if (values.export.length === 0)
    throw usageError("give --config FILE, or at least one --export S.L=PATH", usage);
  if (values.iface.length === 0)
    throw usageError("name the interface(s) to serve on with --iface", usage);
  const known = new Set<string>();
  const exports = values.export.map((spec, i) => {
    const at = spec.indexOf("=");
    if (at <= 0)
      throw usageError(`--export ${spec}: write S.L=PATH, e.g. --export 1.0=/srv/disk.img`, usage);
    const address = spec.slice(0, at).replace(/^e/, "");
    known.add(address);
    return {
      address,
      path: spec.slice(at + 1),
      readOnly: values.readOnly.includes(address) || values.readOnly.includes(`e${address}`),
      durable:
        values.durable.includes("all") ||
        values.durable.includes(address) ||
        values.durable.includes(`e${address}`),
      index: i,
    };
  });
  for (const flag of [...values.readOnly, ...values.durable]) {
    if (flag !== "all" && !known.has(flag.replace(/^e/, "")))
      throw usageError(`${flag} is not one of the --export addresses`, usage);
  }
  const raw: Record<string, unknown> = {
    interfaces: values.iface,
    exports: exports.map(({ address, path: p, readOnly, durable }) => ({
      address,
      path: p,
      readOnly,
      durable,
    })),
  };
  if (values.stateDir !== undefined) raw["stateDir"] = values.stateDir;
  if (values.bufferCount !== undefined) {
    const count = Number(values.bufferCount);
    raw["bufferCount"] = Number.isInteger(count) ? count : values.bufferCount;
  }
  try {
    return parseTargetConfig(raw);
  } catch (error) {
    // Name the flag rather than the config key where the two differ.
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      errorMessage(error)
        .replace(/^exports\[(\d+)\]\./, (_m, i: string) => `--export ${values.export[Number(i)]}: `)
        .replace(/^bufferCount/, "--buffer-count")
        .replace(/^stateDir/, "--state-dir"),
      { cause: error },
    );
  }
}

function readConfigFile(file: string): TargetConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (cause) {
    throw new EtherplaneError(
      "NOT_FOUND",
      `cannot read config ${file}: ${(cause as Error).message}`,
      { cause },
    );
  }
  return parseTargetConfigText(text, file);
}

/** One target per state directory: its MAC masks and reservations must have one writer. */
function lockStateDir(dir: string): () => void {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "target.pid");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: "wx" });
      return () => fs.rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const pid = Number(fs.readFileSync(file, "utf8").trim());
      let alive = false;
      try {
        process.kill(pid, 0);
        alive = pid > 0;
      } catch {
        alive = false;
      }
      if (alive) {
        throw new EtherplaneError(
          "REFUSED",
          `another target (pid ${pid}) uses the state directory ${dir}; stop it or give this one its own --state-dir`,
        );
      }
      fs.rmSync(file, { force: true }); // stale: its process is gone
    }
  }
  throw new EtherplaneError("REFUSED", `cannot lock ${file}`);
}

/** The addresses of `--reset-state` (S.L, eS.L or all), checked before anything starts. */
export function resetStateKeys(values: string[]): string[] | "all" {
  if (values.includes("all")) return "all";
  return values.map((text) => {
    try {
      const { shelf, slot } = parseAddress("--reset-state", text);
      return exportKey(shelf, slot);
    } catch (error) {
      throw usageError(`${errorMessage(error)} (or all)`, usage);
    }
  });
}

/** Clears persisted export state (the files are kept aside), logging what each held. */
async function resetState(
  store: FileExportStateStore,
  which: string[] | "all",
  log: Logger,
): Promise<void> {
  const keys = which === "all" ? await store.keys() : which;
  if (which === "all" && keys.length === 0)
    log.info(`--reset-state all: no persisted export state in ${store.dir}`);
  for (const key of keys) {
    const cleared = await store.reset(key);
    if (!cleared) {
      log.info(`--reset-state: e${key} has no persisted state in ${store.dir}`);
      continue;
    }
    log.warn(`--reset-state: cleared the persisted state of e${key}, kept at ${cleared.movedTo}`, {
      address: key,
      ...(cleared.backing ? { backing: describeBacking(cleared.backing) } : {}),
      macMask: cleared.state.macMask.map(macToString).join(",") || "-",
      reservedBy: cleared.state.reservation.map(macToString).join(",") || "-",
      configStringBytes: cleared.state.configString.length,
    });
  }
}

/** What serve drives: one AoeTarget, or TargetWorkers (--workers N). */
interface ServedTarget {
  stats(): Promise<TargetStats>;
  apply(config: TargetConfig): Promise<void>;
  refreshMtus(): void;
  stop(): Promise<TargetStats>;
}

function single(target: AoeTarget): ServedTarget {
  return {
    stats: () => Promise.resolve(target.stats()),
    apply: (config) => target.apply(config),
    refreshMtus: () => target.refreshMtus(),
    stop: async () => {
      await target.stop();
      return target.stats();
    },
  };
}

/** `--workers`: 1 by default, at most TARGET_WORKERS_MAX. */
export function parseWorkers(text: string | undefined): number {
  if (text === undefined) return 1;
  const count = Number(text);
  if (!/^\d+$/.test(text) || count < 1 || count > TARGET_WORKERS_MAX)
    throw usageError(
      `--workers ${text}: give a count of threads from 1 to ${TARGET_WORKERS_MAX} (e.g. the storage host's cores)`,
      usage,
    );
  return count;
}

/** Logs, per export, the restrictions in force (a masked export answers nobody else). */
function logRestrictions(log: Logger, when: string, stats: TargetStats): void {
  const exports = stats.exports;
  for (const e of exports) {
    const line = describeRestriction(e);
    if (!line) continue;
    log.info(`${when}: ${line}`, {
      address: e.address,
      macMaskLength: e.macMask.length,
      macMask: e.macMask.join(",") || "-",
      reservedBy: e.reservation.join(",") || "-",
    });
  }
  if (exports.every((e) => describeRestriction(e) === undefined))
    log.info(`${when}: ${describeRestrictions(exports).join("")}`);
}

function writeStats(dir: string, stats: TargetStats): void {
  const file = path.join(dir, "stats.json");
  fs.writeFileSync(
    `${file}.tmp`,
    JSON.stringify({ pid: process.pid, timeMs: Date.now(), ...stats }, null, 2),
  );
  fs.renameSync(`${file}.tmp`, file);
}

export async function serveCommand(args: string[]): Promise<void> {
  const { values } = parse(
    args,
    {
      config: { type: "string", short: "c" },
      iface: { type: "string", short: "i", multiple: true },
      export: { type: "string", short: "e", multiple: true },
      "read-only": { type: "string", multiple: true },
      durable: { type: "string", multiple: true },
      "state-dir": { type: "string" },
      "buffer-count": { type: "string" },
      "reset-state": { type: "string", multiple: true },
      workers: { type: "string" },
      "no-fast-path": { type: "boolean" },
    },
    usage,
  );
  if (values.help) {
    process.stdout.write(`usage: ${usage}\n`);
    return;
  }
  const log = createLogger("aoe:target");
  const configFile = values.config;
  if (configFile && (values.export?.length ?? 0) > 0)
    throw usageError("give either --config or --export, not both", usage);
  const load = (): TargetConfig =>
    configFile
      ? readConfigFile(configFile)
      : quickConfig({
          iface: stringList(values.iface),
          export: stringList(values.export),
          readOnly: stringList(values["read-only"]),
          durable: stringList(values.durable),
          ...(values["state-dir"] !== undefined ? { stateDir: values["state-dir"] } : {}),
          ...(values["buffer-count"] !== undefined ? { bufferCount: values["buffer-count"] } : {}),
        });
  const config = load();
  const workers = parseWorkers(values.workers);
  // ATA READs and (non-durable) WRITEs executed in the addon (src/aoe/target/fast-path.ts); off
  // to compare or rule it out.
  const fastPath =
    values["no-fast-path"] !== true && process.env["ETHERPLANE_AOE_FAST_PATH"] !== "0";
  const reset = resetStateKeys(stringList(values["reset-state"]));
  const unlock = lockStateDir(config.stateDir);
  const stateStore = new FileExportStateStore(config.stateDir);
  let target: ServedTarget;
  let pool: TargetWorkers | undefined;
  try {
    await resetState(stateStore, reset, log);
    if (workers > 1) {
      pool = await TargetWorkers.start(config, workers, log, { fastPath });
      target = pool;
    } else {
      target = single(
        await AoeTarget.start(config, {
          openSocket: (ifname) => openAfPacketSocket({ ifname, ethertype: AOE_ETHERTYPE }),
          openDevice: (file, options) => openFileBlockDevice(file, options),
          stateStore,
          log,
          fastPath,
        }),
      );
    }
  } catch (error) {
    unlock();
    throw error;
  }
  // Restrictions first: "serving" is the last start line, the one scripts and tests wait for.
  logRestrictions(log, "access", await target.stats());
  log.info(
    `serving ${config.exports.length} export(s), buffer count ${config.bufferCount}` +
      (workers > 1 ? `, ${workers} workers` : ""),
    { stateDir: config.stateDir, fastPath },
  );
  const statsTimer = setInterval(() => {
    // Not durable state (it is rewritten every interval): no fsync on the data path's thread.
    target
      .stats()
      .then((stats) => writeStats(config.stateDir, stats))
      .catch((error: unknown) =>
        log.warn("cannot write stats.json", { error: errorMessage(error) }),
      );
  }, STATS_INTERVAL_MS);

  let failed: Error | undefined;
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      clearInterval(statsTimer);
      target
        .stats()
        .then((stats) => {
          const inFlight = stats.exports.reduce((sum, e) => sum + e.counters.inFlight, 0);
          log.info(`${signal}: finishing ${inFlight} in-flight requests`);
        })
        .catch(() => log.info(`${signal}: finishing in-flight requests`))
        .then(() => target.stop())
        .then((stats) => {
          try {
            writeStats(config.stateDir, stats);
          } catch {
            // the last stats are a courtesy
          }
        })
        .catch((error: unknown) => log.error("stop failed", { error: errorMessage(error) }))
        .finally(() => {
          unlock();
          log.info("stopped");
          resolve();
        });
    };
    pool?.onFailure((error) => {
      failed = error;
      log.error(`${errorMessage(error)}: stopping the target`);
      stop("worker failure");
    });
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGUSR1", () => {
      target.stats().then(
        (stats) => log.info("counters", { stats: JSON.stringify(stats) }),
        (error: unknown) => log.warn("no counters", { error: errorMessage(error) }),
      );
    });
    process.on("SIGHUP", () => {
      target.refreshMtus();
      let next: TargetConfig;
      try {
        next = load();
      } catch (error) {
        log.error(`SIGHUP: config not reloaded, nothing changed: ${errorMessage(error)}`);
        return;
      }
      if (next.stateDir !== config.stateDir) {
        log.error(
          "SIGHUP: stateDir cannot change while running; restart the target to move it. Nothing changed.",
        );
        return;
      }
      target.apply(next).then(
        () => {
          log.info(`SIGHUP: config reloaded, ${next.exports.length} export(s)`);
          target.stats().then(
            (stats) => logRestrictions(log, "SIGHUP: access", stats),
            (error: unknown) => log.warn("no counters", { error: errorMessage(error) }),
          );
        },
        (error: unknown) =>
          log.error(`SIGHUP: config not applied, nothing changed: ${errorMessage(error)}`),
      );
    });
  });
  if (failed) throw failed;
}
