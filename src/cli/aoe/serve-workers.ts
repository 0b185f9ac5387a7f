/**
 * `etherplane aoe serve --workers N`: the target on N threads, one event loop and one socket per
 * interface each, so that a storage host's cores share the frames. Exports are sharded: export
 * S.L is served by worker (S * 256 + L) mod N alone (aoe/target/shard-filter.ts says how the
 * kernel sorts the frames), so every export's requests, its write ordering, MAC mask list,
 * reservation and config string live in one thread, as with one worker. One export does not go
 * faster with more workers; many exports do.
 *
 * The main thread keeps what belongs to the process (state directory lock, signals, stats.json)
 * and relays: config reloads to every worker (each applies its shard), stats from every worker.
 * A worker that fails or exits stops the whole target: its exports would go unanswered.
 */
import { Worker } from "node:worker_threads";
import { EtherplaneError, errorMessage, isErrorCode } from "../../foundation/errors.js";
import { createLogger, type LogRecord, type Logger } from "../../foundation/log.js";
import type { TargetStats } from "../../aoe/target/aoe-target.js";
import type { TargetConfig } from "../../aoe/target/config.js";
import type { DropReason } from "../../aoe/codec/index.js";

export interface WorkerData {
  index: number;
  workers: number;
  config: TargetConfig;
  /** TargetDeps.fastPath (default on). */
  fastPath?: boolean;
}

export type WorkerRequest =
  | { type: "stats"; id: number }
  | { type: "apply"; id: number; config: TargetConfig }
  | { type: "refresh-mtus" }
  | { type: "stop" };

export type WorkerReply =
  | { type: "log"; record: LogRecord }
  | { type: "started" }
  | { type: "failed"; message: string; code?: string }
  | { type: "stats"; id: number; stats: TargetStats }
  | { type: "applied"; id: number }
  | { type: "apply-failed"; id: number; message: string }
  | { type: "stopped"; stats: TargetStats };

/** How long a worker may take to answer a stats or apply request before the call fails. */
const REPLY_TIMEOUT_MS = 60_000;

/** Stats of the whole target, plus each worker's share (which exports, how many frames). */
export interface WorkersStats extends TargetStats {
  workers: Array<{ index: number; framesIn: number; exports: string[] }>;
}

interface Pending {
  resolve: (reply: WorkerReply) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

class TargetWorker {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  lastStats: TargetStats | undefined;
  readonly stopped: Promise<void>;
  readonly exited: Promise<void>;
  private onStopped: () => void = () => undefined;

  constructor(
    readonly index: number,
    readonly thread: Worker,
  ) {
    this.stopped = new Promise((resolve) => (this.onStopped = resolve));
    this.exited = new Promise((resolve) => thread.once("exit", () => resolve()));
  }

  handle(reply: WorkerReply): void {
    if (reply.type === "stopped") {
      this.lastStats = reply.stats;
      this.onStopped();
      return;
    }
    if (!("id" in reply)) return;
    const waiting = this.pending.get(reply.id);
    if (!waiting) return;
    this.pending.delete(reply.id);
    clearTimeout(waiting.timer);
    waiting.resolve(reply);
  }

  request(make: (id: number) => WorkerRequest): Promise<WorkerReply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new EtherplaneError("TIMEOUT", `worker ${this.index} did not answer in time`));
      }, REPLY_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.thread.postMessage(make(id));
    });
  }

  failAll(error: Error): void {
    for (const [id, waiting] of this.pending) {
      clearTimeout(waiting.timer);
      waiting.reject(error);
      this.pending.delete(id);
    }
    this.onStopped();
  }
}

/** Sums the workers' stats into one target's, keeping each worker's share. */
export function mergeStats(parts: Array<{ index: number; stats: TargetStats }>): WorkersStats {
  const merged: WorkersStats = { drops: {}, framesIn: 0, interfaces: [], exports: [], workers: [] };
  const interfaces = new Map<string, TargetStats["interfaces"][number]>();
  for (const { index, stats } of parts) {
    merged.framesIn += stats.framesIn;
    // Keys come from the workers' own stats (TargetStats), so they are drop reasons.
    for (const [reason, count] of Object.entries(stats.drops) as Array<[DropReason, number]>) {
      merged.drops[reason] = (merged.drops[reason] ?? 0) + count;
    }
    for (const entry of stats.interfaces) {
      const seen = interfaces.get(entry.ifname);
      if (seen) {
        seen.kernelDrops += entry.kernelDrops;
        seen.sendDrops += entry.sendDrops;
      } else interfaces.set(entry.ifname, { ...entry });
    }
    merged.exports.push(...stats.exports);
    merged.workers.push({
      index,
      framesIn: stats.framesIn,
      exports: stats.exports.map((e) => e.address),
    });
  }
  merged.interfaces = [...interfaces.values()];
  return merged;
}

export class TargetWorkers {
  private failure: ((error: Error) => void) | undefined;

  private constructor(
    private readonly workers: TargetWorker[],
    private readonly log: Logger,
  ) {}

  /** Starts `count` workers on `config` (validated), resolving once every one serves. */
  static async start(
    config: TargetConfig,
    count: number,
    log: Logger,
    options: { fastPath?: boolean } = {},
  ): Promise<TargetWorkers> {
    const script = new URL("./serve-worker.js", import.meta.url);
    const workers: TargetWorker[] = [];
    const started: Array<Promise<void>> = [];
    for (let index = 0; index < count; index++) {
      const data: WorkerData = {
        index,
        workers: count,
        config,
        ...(options.fastPath !== undefined ? { fastPath: options.fastPath } : {}),
      };
      const worker = new TargetWorker(index, new Worker(script, { workerData: data }));
      workers.push(worker);
      started.push(
        new Promise<void>((resolve, reject) => {
          const early = (error: Error) =>
            reject(new EtherplaneError("IO_ERROR", `worker ${index}: ${errorMessage(error)}`));
          worker.thread.once("error", early);
          worker.thread.on("message", function first(reply: WorkerReply) {
            if (reply.type === "started" || reply.type === "failed") {
              worker.thread.off("message", first);
              worker.thread.off("error", early);
              if (reply.type === "started") resolve();
              // The worker's error code, so that the exit code is the one a single target gives.
              else
                reject(
                  new EtherplaneError(
                    isErrorCode(reply.code) ? reply.code : "IO_ERROR",
                    `worker ${index}: ${reply.message}`,
                  ),
                );
            }
          });
        }),
      );
    }
    const pool = new TargetWorkers(workers, log);
    for (const worker of workers) pool.watch(worker);
    const results = await Promise.allSettled(started);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) {
      await pool.stop();
      throw failed.reason;
    }
    return pool;
  }

  private watch(worker: TargetWorker): void {
    const relay = new Map<string, Logger>();
    worker.thread.on("message", (reply: WorkerReply) => {
      if (reply.type === "log") {
        const { namespace, level, message, fields } = reply.record;
        const logger = relay.get(namespace) ?? createLogger(namespace);
        relay.set(namespace, logger);
        logger[level](message, { ...fields, worker: worker.index });
        return;
      }
      worker.handle(reply);
    });
    const lost = (why: string) => {
      const error = new EtherplaneError("IO_ERROR", `target worker ${worker.index} ${why}`);
      worker.failAll(error);
      this.failure?.(error);
    };
    worker.thread.on("error", (error) => lost(`failed: ${errorMessage(error)}`));
    worker.thread.on("exit", (code) => {
      if (worker.lastStats === undefined) lost(`exited (code ${code}) while serving`);
    });
  }

  /** Called once if a worker fails or exits while serving. */
  onFailure(handler: (error: Error) => void): void {
    this.failure = handler;
  }

  async stats(): Promise<WorkersStats> {
    const parts = await Promise.all(
      this.workers.map(async (worker) => {
        if (worker.lastStats) return { index: worker.index, stats: worker.lastStats };
        const reply = await worker.request((id) => ({ type: "stats", id }));
        if (reply.type !== "stats") throw new Error(`worker ${worker.index}: ${reply.type}`);
        return { index: worker.index, stats: reply.stats };
      }),
    );
    return mergeStats(parts);
  }

  /** Applies a new config in every worker (each its shard); rejects naming the workers that failed. */
  async apply(config: TargetConfig): Promise<void> {
    const replies = await Promise.all(
      this.workers.map((worker) => worker.request((id) => ({ type: "apply", id, config }))),
    );
    const failed = replies
      .map((reply, index) =>
        reply.type === "apply-failed" ? `worker ${index}: ${reply.message}` : "",
      )
      .filter(Boolean);
    if (failed.length > 0) throw new EtherplaneError("INVALID_CONFIG", failed.join("; "));
  }

  refreshMtus(): void {
    for (const worker of this.workers) worker.thread.postMessage({ type: "refresh-mtus" });
  }

  /** Drains and stops every worker; resolves with the final merged stats. */
  async stop(): Promise<WorkersStats> {
    this.failure = undefined;
    for (const worker of this.workers) {
      if (worker.lastStats === undefined) worker.thread.postMessage({ type: "stop" });
    }
    await Promise.all(this.workers.map((worker) => worker.stopped));
    // A stopped worker closes its port and its thread ends by itself, its sockets and files
    // closed in order: no terminate(), which would cut short what its loop still finishes.
    await Promise.all(this.workers.map((worker) => worker.exited));
    this.log.debug(`${this.workers.length} target workers stopped`);
    return mergeStats(
      this.workers.map((w) => ({ index: w.index, stats: w.lastStats ?? emptyStats() })),
    );
  }
}

function emptyStats(): TargetStats {
  return { drops: {}, framesIn: 0, interfaces: [], exports: [] };
}
