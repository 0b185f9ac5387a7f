/**
 * A long-running Xen host: dom0 boots (with the network, AoE and shares asked for), starts its
 * exec server and stays up, so a test can run the agent in dom0 and talk to it over the network,
 * and meanwhile run commands there (`xl list`, a guest's console log) with `exec`.
 *
 *   const host = await startXenHost({ net, network: { bridgeNs, bridge: "br0",
 *     address: "10.77.0.50/24", guestBridge: "xenbr0" }, aoe: true, node: true, project: true });
 *   try {
 *     await host.run(`node ${cliPath} agent ... >/var/log/agent.log 2>&1 &`);
 *     const { code, stdout } = await host.exec("xl list");
 *   } finally {
 *     await host.close();
 *   }
 *
 * The exec channel is a virtio-serial port on a unix socket in the session's work folder
 * (exec-channel.ts has the protocol). dom0 powers itself off after `lifetimeMs`, and QEMU is
 * killed a little later, so a test process that died leaves nothing running for long.
 */
import type { ChildProcess } from "node:child_process";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { EtherplaneError } from "../../../src/foundation/errors.js";
import { createLogger } from "../../../src/foundation/log.js";
import type { GuestStage } from "../linux-guest/guest-console.js";
import {
  encodeExecRequest,
  execOutputBytesDefault,
  execOutputBytesMax,
  execTimeoutSMax,
  parseExecResponse,
  responseLineCharsMax,
  type ExecResult,
} from "./exec-channel.js";
import type { XenHostCommonOptions } from "./host-config.js";
import { launchXenHost, type LaunchedHost } from "./host-launch.js";

const log = createLogger("lab:xen-host");

const startTimeoutMsDefault = 120_000;
const lifetimeMsDefault = 30 * 60_000;
const lifetimeMsMax = 4 * 60 * 60_000;
const execTimeoutMsDefault = 60_000;
/** The host waits this much past dom0's own kill of a command, for its answer to arrive. */
const execAnswerGraceMs = 15_000;
/** After dom0's lifetime, QEMU gets this long to power off before it is killed. */
const lifetimeGraceMs = 30_000;
const pendingMax = 64;
const portName = "ep.ctl";

export interface XenSessionOptions extends XenHostCommonOptions {
  /** Run with `run` once dom0 is ready, e.g. to start a background process; must exit 0. */
  script?: string;
  /** QEMU start to dom0 ready (boot, network, AoE disks, shares); 120 s by default. */
  startTimeoutMs?: number;
  /** dom0 powers off past it, and QEMU is killed; 30 min by default, 4 h at most. */
  lifetimeMs?: number;
  /** Bytes kept of each command's stdout and of its stderr; 4 MiB by default. */
  execOutputBytes?: number;
}

export interface XenExecOptions {
  /** dom0 kills the command past it (exit code 137); 60 s by default, whole seconds, ≤ 1 h. */
  timeoutMs?: number;
}

export interface XenHostSession {
  /**
   * Runs a busybox sh script in dom0 (in /tmp, stdin /dev/null, the Xen tools and node on PATH,
   * ETHERPLANE_DATA_DIR set) and returns its exit code and output. Commands may run
   * concurrently. A background process the script starts outlives it; send its output to a file.
   */
  exec(script: string, options?: XenExecOptions): Promise<ExecResult>;
  /** `exec` that throws (REFUSED, with stderr) unless the exit code is 0; returns stdout. */
  run(script: string, options?: XenExecOptions): Promise<string>;
  /** The serial console so far (Xen and dom0 kernel messages, /init's marks). */
  console(): string;
  /** INIT, XEN, NET, AOE, SHARES (as asked), READY: dom0 uptime and host ms. */
  readonly stages: readonly GuestStage[];
  /** dom0's eth0 MAC, with `network`. */
  readonly mac: string | undefined;
  /** QEMU start to dom0 ready, ms. */
  readonly readyMs: number;
  readonly child: ChildProcess;
  /** Kills QEMU (dom0 is RAM only: nothing to save), deletes the tap. Idempotent. */
  close(): Promise<void>;
}

function invalid(message: string): never {
  throw new EtherplaneError("INVALID_ARGUMENT", message);
}

interface Pending {
  resolve(result: ExecResult): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** The host end of the exec channel: requests out, answers matched by id. */
class ExecClient {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private buffered = "";
  private failure: Error | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly lineCharsMax: number,
  ) {
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => this.receive(chunk));
    socket.on("error", (error) => this.fail(new EtherplaneError("IO_ERROR", error.message)));
    socket.on("close", () => this.fail(new EtherplaneError("CLOSED", "exec channel closed")));
  }

  exec(script: string, timeoutMs: number): Promise<ExecResult> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending.size >= pendingMax) {
      return Promise.reject(
        new EtherplaneError("UNAVAILABLE", `${pendingMax} commands already run in dom0`),
      );
    }
    const timeoutS = Math.ceil(timeoutMs / 1000);
    const id = this.nextId++;
    const request = encodeExecRequest(id, script, timeoutS);
    return new Promise<ExecResult>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.pending.delete(id);
          reject(
            new EtherplaneError("TIMEOUT", `dom0 did not answer command ${id} in time`, {
              params: { timeoutMs },
            }),
          );
        },
        timeoutS * 1000 + execAnswerGraceMs,
      );
      this.pending.set(id, { resolve, reject, timer });
      this.socket.write(request, "latin1");
    });
  }

  fail(error: Error): void {
    this.failure ??= error;
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(this.failure);
      this.pending.delete(id);
    }
    this.socket.destroy();
  }

  private receive(chunk: string): void {
    const pieces = (this.buffered + chunk).split("\n");
    this.buffered = pieces.pop() ?? "";
    if (this.buffered.length > this.lineCharsMax) {
      this.fail(new EtherplaneError("PROTOCOL", "dom0 sent an over-long line"));
      return;
    }
    for (const line of pieces) {
      const response = parseExecResponse(line);
      const pending = response && this.pending.get(response.id);
      if (!response || !pending) {
        log.warn("exec channel: line dropped", { line: line.slice(0, 120) });
        continue;
      }
      this.pending.delete(response.id);
      clearTimeout(pending.timer);
      pending.resolve({
        code: response.code,
        stdout: response.stdout.toString("utf8"),
        stderr: response.stderr.toString("utf8"),
      });
    }
  }
}

function connectSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

/** Waits until dom0 marks READY; throws with the console tail if it fails, dies or is late. */
function waitReady(launched: LaunchedHost, timeoutMs: number): Promise<void> {
  const { child, host, context } = launched;
  return new Promise((resolve, reject) => {
    const finish = (error?: Error) => {
      clearTimeout(timer);
      child.stdout?.off("data", check);
      child.off("close", onClose);
      if (error) reject(error);
      else resolve();
    };
    const check = () => {
      if (host.failure !== undefined) {
        finish(
          new EtherplaneError("UNAVAILABLE", `dom0 setup failed: ${host.failure}${context()}`),
        );
      } else if (host.stage("READY")) {
        finish();
      }
    };
    const onClose = () => {
      host.end(Date.now());
      finish(
        new EtherplaneError(
          "IO_ERROR",
          `QEMU exited (${child.exitCode ?? child.signalCode}) before dom0 was ready${context()}`,
        ),
      );
    };
    const timer = setTimeout(
      () =>
        finish(
          new EtherplaneError("TIMEOUT", `dom0 not ready in ${timeoutMs} ms${context()}`, {
            params: { timeoutMs },
          }),
        ),
      timeoutMs,
    );
    // The console listener (startXenHost) runs first: it was added before this one.
    child.stdout?.on("data", check);
    child.once("close", onClose);
    check();
  });
}

/** Boots a Xen host that stays up; see the file comment. */
export async function startXenHost(options: XenSessionOptions = {}): Promise<XenHostSession> {
  const startTimeoutMs = options.startTimeoutMs ?? startTimeoutMsDefault;
  if (!(startTimeoutMs >= 1000 && startTimeoutMs <= 30 * 60_000)) {
    invalid(`startTimeoutMs ${startTimeoutMs}`);
  }
  const lifetimeMs = options.lifetimeMs ?? lifetimeMsDefault;
  if (!(lifetimeMs >= 10_000 && lifetimeMs <= lifetimeMsMax)) invalid(`lifetimeMs ${lifetimeMs}`);
  const cap = options.execOutputBytes ?? execOutputBytesDefault;
  if (!Number.isInteger(cap) || cap < 1024 || cap > execOutputBytesMax) {
    invalid(`execOutputBytes ${cap}`);
  }
  let socketPath = "";
  const launched = await launchXenHost(
    options,
    { mode: "session", lifeS: Math.ceil(lifetimeMs / 1000), port: portName, execCap: cap },
    [],
    (workDir) => {
      socketPath = join(workDir, "exec.sock");
      if (socketPath.length > 100) invalid(`socket path ${socketPath} is too long`);
      return [
        ...["-device", "virtio-serial-pci"],
        ...["-chardev", `socket,id=epctl,path=${socketPath},server=on,wait=off`],
        ...["-device", `virtserialport,chardev=epctl,name=${portName}`],
      ];
    },
  );
  const { child, host, stderr, startMs } = launched;
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (chunk: string) => host.push(chunk, Date.now()));
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr.text = (stderr.text + chunk).slice(-16_384);
  });
  const lifetimeTimer = setTimeout(() => child.kill("SIGKILL"), lifetimeMs + lifetimeGraceMs);
  child.once("close", () => clearTimeout(lifetimeTimer));

  let client: ExecClient | undefined;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    clearTimeout(lifetimeTimer);
    client?.fail(new EtherplaneError("CLOSED", "the Xen host session was closed"));
    await launched.dispose();
  };
  try {
    await waitReady(launched, startTimeoutMs);
    const readyMs = Date.now() - startMs;
    client = new ExecClient(await connectSocket(socketPath), responseLineCharsMax(cap));
    const execClient = client;
    child.once("close", () =>
      execClient.fail(
        new EtherplaneError(
          "IO_ERROR",
          `QEMU exited (${child.exitCode ?? child.signalCode})${launched.context()}`,
        ),
      ),
    );
    const exec = (script: string, execOptions: XenExecOptions = {}) => {
      const timeoutMs = execOptions.timeoutMs ?? execTimeoutMsDefault;
      if (!(timeoutMs >= 1000 && timeoutMs <= execTimeoutSMax * 1000)) {
        return Promise.reject(new EtherplaneError("INVALID_ARGUMENT", `timeoutMs ${timeoutMs}`));
      }
      return execClient.exec(script, timeoutMs);
    };
    const run = async (script: string, execOptions?: XenExecOptions) => {
      const result = await exec(script, execOptions);
      if (result.code !== 0) {
        throw new EtherplaneError(
          "REFUSED",
          `dom0 command exited ${result.code}: ${script.slice(0, 200)}\n--- stderr ---\n${result.stderr.slice(-4000)}`,
          { params: { code: result.code } },
        );
      }
      return result.stdout;
    };
    const session: XenHostSession = {
      exec,
      run,
      console: () => host.console,
      stages: host.stages,
      mac: launched.plan.network?.nics[0]?.mac,
      readyMs,
      child,
      close,
    };
    if (options.script !== undefined) await run(options.script);
    return session;
  } catch (error) {
    await close();
    throw error;
  }
}
