/**
 * Console sessions of one guest. QEMU's socket chardev serves one client at a time, so a driver
 * instance holds one connection per guest and fans it out: every session gets what the guest
 * prints, and what any session writes goes to the guest. The connection is made on the first
 * attach and closed with the last session.
 *
 * History comes from QEMU's own console.log (run-dir.ts), read after the connection is up: a few
 * bytes printed in between may show twice (in the history and live), none are missed.
 *
 * A session whose reader falls behind by more than `sessionBufferBytesMax` loses output (counted
 * in `droppedBytes`) rather than buffering without bound.
 */
import { connect, type Socket } from "node:net";
import { Duplex } from "node:stream";
import { EtherplaneError } from "../../foundation/errors.js";
import type { GuestConsoleSession } from "../driver.js";

const sessionBufferBytesMax = 4 * 1024 * 1024;
const sessionsMax = 16;

class ConsoleStream extends Duplex {
  droppedBytes = 0;

  constructor(
    private readonly sink: (chunk: Buffer, done: (error?: Error | null) => void) => void,
  ) {
    super();
  }

  deliver(chunk: Buffer): void {
    if (this.readableLength > sessionBufferBytesMax) {
      this.droppedBytes += chunk.length;
      return;
    }
    this.push(chunk);
  }

  override _read(): void {
    // Data is pushed as the guest prints it; nothing to pull.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void) {
    this.sink(chunk, done);
  }
}

export class ConsoleHub {
  private socket: Socket | undefined;
  private connecting: Promise<Socket> | undefined;
  private readonly sessions = new Set<ConsoleStream>();

  constructor(
    private readonly socketPath: string,
    private readonly readHistory: () => Promise<Buffer>,
    private readonly connectTimeoutMs: number,
  ) {}

  get sessionCount(): number {
    return this.sessions.size;
  }

  async attach(): Promise<GuestConsoleSession> {
    if (this.sessions.size >= sessionsMax) {
      throw new EtherplaneError("UNAVAILABLE", `already ${sessionsMax} console sessions`);
    }
    const socket = await this.connection();
    const stream = new ConsoleStream((chunk, done) => {
      if (socket.destroyed) done(new EtherplaneError("CLOSED", "the console connection closed"));
      else socket.write(chunk, (error) => done(error));
    });
    this.sessions.add(stream);
    const history = await this.readHistory();
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      this.sessions.delete(stream);
      stream.push(null);
      stream.destroy();
      if (this.sessions.size === 0) this.disconnect();
      await Promise.resolve();
    };
    return { history, stream, close };
  }

  /** Ends every session (guest destroyed). */
  closeAll(): void {
    for (const stream of this.sessions) {
      stream.push(null);
      stream.destroy();
    }
    this.sessions.clear();
    this.disconnect();
  }

  private disconnect(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private async connection(): Promise<Socket> {
    if (this.socket && !this.socket.destroyed) return this.socket;
    // Two attaches at once share one connection attempt.
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connect(): Promise<Socket> {
    const socket = connect(this.socketPath);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new EtherplaneError("TIMEOUT", `console ${this.socketPath}: no connection`));
      }, this.connectTimeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(
          new EtherplaneError("UNAVAILABLE", `console ${this.socketPath}: ${error.message}`, {
            cause: error,
          }),
        );
      });
    });
    socket.on("data", (chunk: Buffer) => {
      for (const session of this.sessions) session.deliver(chunk);
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      for (const session of this.sessions) session.push(null);
      this.sessions.clear();
    });
    this.socket = socket;
    return socket;
  }
}
