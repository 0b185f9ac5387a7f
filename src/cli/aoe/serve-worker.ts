/**
 * One worker thread of `etherplane aoe serve --workers N` (serve-workers.ts starts them): an
 * AoeTarget serving the exports of its shard, on sockets whose kernel filter passes only their
 * frames and broadcasts (aoe/target/shard-filter.ts). It talks to the main thread by messages:
 * WorkerRequest in, WorkerReply out; its log records go to the main thread's log.
 */
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import { openFileBlockDevice } from "../../block/file/file-block-device.js";
import { errorMessage, EtherplaneError } from "../../foundation/errors.js";
import { createLogger, setLogSink } from "../../foundation/log.js";
import { openAfPacketSocket } from "../../net/raw-socket/af-packet.js";
import { AOE_ETHERTYPE } from "../../aoe/codec/header.js";
import { AoeTarget } from "../../aoe/target/aoe-target.js";
import type { TargetConfig } from "../../aoe/target/config.js";
import { FileExportStateStore } from "../../aoe/target/export-state.js";
import { encodeBpf, shardProgram, workerOfExport } from "../../aoe/target/shard-filter.js";
import type { WorkerData, WorkerReply, WorkerRequest } from "./serve-workers.js";

if (!parentPort) throw new Error("serve-worker.js runs as a worker thread of aoe serve --workers");
const port: MessagePort = parentPort;
const { index, workers, config, fastPath } = workerData as WorkerData;
const post = (reply: WorkerReply) => port.postMessage(reply);

setLogSink((record) => post({ type: "log", record }));
const log = createLogger("aoe:target");

/** The exports this worker serves. */
function shardOf(full: TargetConfig): TargetConfig {
  return {
    ...full,
    exports: full.exports.filter((e) => workerOfExport(e.shelf, e.slot, workers) === index),
  };
}

const filter = encodeBpf(shardProgram(index, workers));

async function main(): Promise<void> {
  let target: AoeTarget;
  try {
    target = await AoeTarget.start(shardOf(config), {
      openSocket: (ifname) =>
        openAfPacketSocket({ ifname, ethertype: AOE_ETHERTYPE, receiveFilter: filter }),
      openDevice: (file, options) => openFileBlockDevice(file, options),
      stateStore: new FileExportStateStore(config.stateDir),
      log,
      fastPath: fastPath ?? true,
    });
  } catch (error) {
    post({
      type: "failed",
      message: errorMessage(error),
      ...(error instanceof EtherplaneError ? { code: error.code } : {}),
    });
    port.close(); // the thread ends: the main thread sees it exit
    return;
  }
  post({ type: "started" });
  port.on("message", (request: WorkerRequest) => {
    switch (request.type) {
      case "stats":
        post({ type: "stats", id: request.id, stats: target.stats() });
        break;
      case "refresh-mtus":
        target.refreshMtus();
        break;
      case "apply":
        target.apply(shardOf(request.config)).then(
          () => post({ type: "applied", id: request.id }),
          (error: unknown) =>
            post({ type: "apply-failed", id: request.id, message: errorMessage(error) }),
        );
        break;
      case "stop":
        target
          .stop()
          .catch((error: unknown) => log.error("stop failed", { error: errorMessage(error) }))
          .finally(() => {
            post({ type: "stopped", stats: target.stats() });
            port.close();
          });
        break;
    }
  });
}

void main();
