/**
 * One `xl console NAME` process per guest, shared by every session attached to it: xenconsole
 * takes an exclusive lock per domain (`Could not lock /var/lock/xenconsole.N`, seen on Xen
 * 4.17), while the driver interface lets several sessions attach at once. The hub fans the
 * guest's output out to every session and merges their input.
 *
 * xenconsole only reads its input when its stdin is a terminal (seen on Xen 4.17: with a pipe,
 * output flows but input never reaches the guest), so the driver runs it under util-linux's
 * `script`, which gives it a pty; `script` merges xl's stderr into that pty. On its input a
 * read of the single byte 0x1d (Ctrl-]) detaches (tools/console/client/main.c), so the hub
 * drops that byte from what sessions write. The hub ends xenconsole with SIGTERM rather than
 * end of input, which `script` would pass on to the guest as a Ctrl-D.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { Duplex } from "node:stream";
import { EtherplaneError, errorFields } from "../../foundation/errors.js";
import { createLogger } from "../../foundation/log.js";
import type { GuestConsoleSession } from "../driver.js";
import { splitBacklog, readFileTail, TailBuffer } from "./console-history.js";
import { xlFailure } from "./xl-errors.js";

const log = createLogger("hypervisor:xen:console");

export type ConsoleSpawner = (argv: readonly string[]) => ChildProcessWithoutNullStreams;

export interface ConsoleHubOptions {
  /** `xl console NAME`, usually wrapped in `script` (see above). */
  argv: readonly string[];
  name: string;
  /** xenconsoled's log for this guest; null when the host keeps none. */
  logPath: string | null;
  spawn: ConsoleSpawner;
  historyBytesMax: number;
  /** A session whose reader lags this far behind loses output rather than growing memory. */
  sessionBufferBytesMax: number;
  /**
   * Collecting the replayed backlog after spawning: wait up to `settleFirstMs` for its first
   * byte (xl and xenconsole take that long to start), then until `settleQuietMs` pass without
   * output, and no longer than `settleMaxMs` in all (a guest that never stops printing).
   */
  settleFirstMs: number;
  settleQuietMs: number;
  settleMaxMs: number;
  /** How long a closing hub waits after SIGTERM before SIGKILL. */
  exitGraceMs: number;
  /** Called once xenconsole has exited, whatever the reason. */
  onClosed?: () => void;
}

const ESCAPE_BYTE = 0x1d;

export class ConsoleHub {
  private readonly sessions = new Set<ConsoleStream>();
  private readonly recent: TailBuffer;
  private child: ChildProcessWithoutNullStreams | undefined;
  private exited = false;
  private stopping = false;
  private readonly exitedPromise: Promise<void>;
  private markExited!: () => void;
  private stderr = "";
  /** Set while the first attach collects the backlog: output goes there, not to sessions. */
  private backlog: Buffer[] | undefined = [];
  private lastDataMs = 0;
  private wake: (() => void) | undefined;

  constructor(private readonly options: ConsoleHubOptions) {
    this.recent = new TailBuffer(options.historyBytesMax);
    this.exitedPromise = new Promise((resolve) => (this.markExited = resolve));
  }

  /** Resolves once xenconsole has exited (and released its per-domain lock). */
  waitExited(): Promise<void> {
    return this.exitedPromise;
  }

  /** Exited, or ending: a new session must start a new hub. */
  get closed(): boolean {
    return this.exited || this.stopping;
  }

  /**
   * Spawns xenconsole and returns the first session, whose history is the log tail with the
   * replayed backlog's repeat removed (or the backlog itself when there is no log).
   */
  async start(): Promise<GuestConsoleSession> {
    const child = this.options.spawn(this.options.argv);
    this.child = child;
    child.stdout.on("data", (chunk: Buffer) => this.onData(chunk));
    child.stderr.on("data", (chunk: Buffer) => {
      if (this.stderr.length < 4096) this.stderr += chunk.toString("utf8");
    });
    child.stdin.on("error", () => undefined); // EPIPE after exit: the exit handler reports it
    child.on("error", (error) => {
      this.stderr += `\n${error.message}`;
      this.onExit(null);
    });
    child.on("exit", (code) => this.onExit(code));

    await this.settle();
    if (this.exited) {
      // Under `script` xl's complaint arrives on stdout (the pty), not stderr.
      const stdout = Buffer.concat(this.backlog ?? []).toString("utf8");
      const result = { code: child.exitCode ?? 1, stdout, stderr: this.stderr };
      throw xlFailure(this.options.argv, result, this.options.name);
    }
    const backlog = Buffer.concat(this.backlog ?? []);
    this.backlog = undefined;
    const logTail = await this.readLog();
    let history: Buffer;
    let first: Buffer;
    if (logTail === null) {
      history = tail(backlog, this.options.historyBytesMax);
      first = Buffer.alloc(0);
    } else {
      ({ history, first } = splitBacklog(logTail, backlog));
    }
    const session = this.addSession(history);
    if (first.length > 0) session.stream.deliver(first);
    return session;
  }

  /** A later session: history from the log, or from what the hub has seen. */
  async attach(): Promise<GuestConsoleSession> {
    const history = (await this.readLog()) ?? this.recent.contents();
    if (this.exited) {
      throw new EtherplaneError("CLOSED", `the console of ${this.options.name} has closed`);
    }
    return this.addSession(history);
  }

  private addSession(history: Buffer): GuestConsoleSession & { stream: ConsoleStream } {
    const stream = new ConsoleStream(this, this.options.sessionBufferBytesMax);
    this.sessions.add(stream);
    return {
      history,
      stream,
      close: async () => {
        stream.endOutput();
        await this.detach(stream);
        stream.destroy();
      },
    };
  }

  /** Sends a session's bytes to the guest, without xenconsole's detach byte. */
  write(chunk: Buffer, callback: (error?: Error | null) => void): void {
    const child = this.child;
    if (this.exited || child === undefined) {
      callback(new EtherplaneError("CLOSED", `the console of ${this.options.name} has closed`));
      return;
    }
    const bytes = chunk.includes(ESCAPE_BYTE) ? chunk.filter((b) => b !== ESCAPE_BYTE) : chunk;
    child.stdin.write(Buffer.from(bytes), callback);
  }

  async detach(stream: ConsoleStream): Promise<void> {
    if (!this.sessions.delete(stream) || this.sessions.size > 0) return;
    await this.stop();
  }

  /** Ends xenconsole (SIGTERM: it restores the terminal and exits), then SIGKILL if it lingers. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || this.exited) return;
    this.stopping = true;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), this.options.exitGraceMs);
    await this.exitedPromise;
    clearTimeout(timer);
  }

  private onData(chunk: Buffer): void {
    this.lastDataMs = Date.now();
    this.recent.append(chunk);
    if (this.backlog !== undefined) {
      this.backlog.push(chunk);
      this.wake?.();
      return;
    }
    for (const session of this.sessions) session.deliver(chunk);
  }

  private onExit(code: number | null): void {
    if (this.exited) return;
    this.exited = true;
    log.debug("xl console exited", { guest: this.options.name, code, stderr: this.stderr });
    for (const session of this.sessions) session.endOutput();
    this.sessions.clear();
    this.markExited();
    this.options.onClosed?.();
  }

  /** Waits for the replayed backlog (see settleFirstMs); a guest with nothing unread costs the wait. */
  private async settle(): Promise<void> {
    const startMs = Date.now();
    this.lastDataMs = 0;
    const { settleFirstMs, settleQuietMs, settleMaxMs } = this.options;
    while (!this.exited) {
      const nowMs = Date.now();
      const deadlineMs =
        this.lastDataMs === 0
          ? startMs + Math.min(settleFirstMs, settleMaxMs)
          : Math.min(this.lastDataMs + settleQuietMs, startMs + settleMaxMs);
      if (nowMs >= deadlineMs) return;
      let timer: NodeJS.Timeout | undefined;
      const wait = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, deadlineMs - nowMs);
        this.wake = resolve; // the next byte moves the deadline
      });
      await Promise.race([wait, this.exitedPromise]);
      clearTimeout(timer);
      this.wake = undefined;
    }
  }

  private async readLog(): Promise<Buffer | null> {
    if (this.options.logPath === null) return null;
    try {
      return await readFileTail(this.options.logPath, this.options.historyBytesMax);
    } catch (error) {
      log.warn("cannot read the console log", {
        guest: this.options.name,
        path: this.options.logPath,
        ...errorFields(error),
      });
      return null;
    }
  }
}

/** A session's end: reads the guest's output, writes go to the guest. */
class ConsoleStream extends Duplex {
  private dropped = 0;

  constructor(
    private readonly hub: ConsoleHub,
    private readonly bufferBytesMax: number,
  ) {
    super();
  }

  deliver(chunk: Buffer): void {
    if (this.destroyed || this.readableEnded) return;
    if (this.readableLength + chunk.length > this.bufferBytesMax) {
      // Bounded: a reader that stopped reading loses output, the guest never waits for it.
      this.dropped += chunk.length;
      return;
    }
    this.push(chunk);
  }

  endOutput(): void {
    if (this.dropped > 0) log.warn("console reader too slow", { droppedBytes: this.dropped });
    if (!this.destroyed && !this.readableEnded) this.push(null);
  }

  override _read(): void {
    // Output is pushed as the guest writes it; there is nothing to pull.
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this.hub.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    // One session ending its input must not end xenconsole's stdin for the others.
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    void this.hub.detach(this).then(
      () => callback(error),
      (detachError: unknown) => callback(detachError as Error),
    );
  }
}

function tail(buffer: Buffer, bytesMax: number): Buffer {
  return buffer.length > bytesMax ? buffer.subarray(buffer.length - bytesMax) : buffer;
}
