/**
 * A QMP connection over a Unix socket: greeting, `qmp_capabilities`, then commands matched to
 * their replies by id, with a timeout on every step. Events arriving meanwhile are kept (bounded)
 * for the caller. QEMU serves one client per monitor socket at a time; a second client waits in
 * the listen backlog until the first leaves, which the connect timeout covers.
 */
import { connect, type Socket } from "node:net";
import { EtherplaneError } from "../../foundation/errors.js";
import {
  encodeQmpCommand,
  parseQmpLine,
  QmpLineDecoder,
  type QmpMessage,
  type QmpVersion,
} from "./qmp-codec.js";

const eventsKeptMax = 256;

type Waiter = (message: QmpMessage | Error) => void;

export class QmpConnection {
  readonly events: Extract<QmpMessage, { kind: "event" }>[] = [];
  version: QmpVersion | undefined;
  private readonly decoder = new QmpLineDecoder();
  /** Messages that arrived while nobody waited (bounded). */
  private readonly queue: QmpMessage[] = [];
  private waiter: Waiter | undefined;
  private closedError: Error | undefined;
  private nextId = 1;

  private constructor(
    private readonly socket: Socket,
    private readonly path: string,
  ) {
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (error) => this.fail(error));
    socket.on("close", () => this.fail(new Error("connection closed")));
  }

  /** Connects, reads the greeting and leaves capabilities negotiation mode. */
  static async open(path: string, timeoutMs: number): Promise<QmpConnection> {
    const socket = connect(path);
    const connection = new QmpConnection(socket, path);
    try {
      const greeting = await connection.next(timeoutMs, "greeting");
      if (greeting.kind !== "greeting") {
        throw new EtherplaneError(
          "PROTOCOL",
          `QMP ${path}: expected a greeting, got ${greeting.kind}`,
        );
      }
      connection.version = greeting.version;
      await connection.execute("qmp_capabilities", undefined, timeoutMs);
      return connection;
    } catch (error) {
      connection.close();
      throw error;
    }
  }

  /** Runs a command; resolves with its `return` value, throws REFUSED with QEMU's error. */
  async execute(
    command: string,
    args: Record<string, unknown> | undefined,
    timeoutMs: number,
  ): Promise<unknown> {
    const id = `ep-${this.nextId++}`;
    this.socket.write(encodeQmpCommand(command, args, id));
    while (true) {
      const message = await this.next(timeoutMs, command);
      if (message.kind === "event") {
        if (this.events.length < eventsKeptMax) this.events.push(message);
        continue;
      }
      if (message.kind === "greeting" || message.id !== id) continue;
      if (message.kind === "error") {
        throw new EtherplaneError(
          "REFUSED",
          `QMP ${command}: ${message.errorClass}: ${message.description}`,
          { params: { command, errorClass: message.errorClass } },
        );
      }
      return message.value;
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private next(timeoutMs: number, what: string): Promise<QmpMessage> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closedError) return Promise.reject(this.wrap(this.closedError, what));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(
          new EtherplaneError("TIMEOUT", `QMP ${this.path}: no ${what} reply in ${timeoutMs} ms`, {
            params: { timeoutMs },
          }),
        );
      }, timeoutMs);
      this.waiter = (message) => {
        clearTimeout(timer);
        this.waiter = undefined;
        if (message instanceof Error) reject(this.wrap(message, what));
        else resolve(message);
      };
    });
  }

  private wrap(error: Error, what: string): EtherplaneError {
    if (error instanceof EtherplaneError) return error;
    return new EtherplaneError("UNAVAILABLE", `QMP ${this.path} (${what}): ${error.message}`, {
      cause: error,
    });
  }

  private onData(chunk: Buffer): void {
    for (const line of this.decoder.push(chunk)) {
      const parsed = parseQmpLine(line);
      if (!parsed.ok) {
        this.fail(new EtherplaneError("PROTOCOL", `QMP ${this.path}: ${parsed.reason}`));
        return;
      }
      if (this.waiter) this.waiter(parsed.message);
      else if (this.queue.length < eventsKeptMax) this.queue.push(parsed.message);
    }
    if (this.decoder.failure !== undefined) {
      this.fail(new EtherplaneError("PROTOCOL", `QMP ${this.path}: ${this.decoder.failure}`));
    }
  }

  private fail(error: Error): void {
    this.closedError ??= error;
    this.socket.destroy();
    this.waiter?.(error);
  }
}

/** Opens a connection, runs `use`, closes: one short-lived client per operation. */
export async function withQmp<T>(
  path: string,
  timeoutMs: number,
  use: (connection: QmpConnection) => Promise<T>,
): Promise<T> {
  const connection = await QmpConnection.open(path, timeoutMs);
  try {
    return await use(connection);
  } finally {
    connection.close();
  }
}
