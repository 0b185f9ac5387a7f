/**
 * A fake guest's serial console: a bounded history, live sessions, and a line discipline that
 * echoes input like a terminal and runs each line as a console-guest command (console-guest.ts):
 * `echo TEXT`, the power-off, reboot and crash commands; anything else is "not found".
 */
import { Duplex } from "node:stream";
import type { GuestConsoleSession, GuestExit } from "../driver.js";
import { consoleGuestCommands } from "./console-guest.js";

const historyBytesMax = 64 * 1024;
const lineBytesMax = 4096;

class FakeConsoleStream extends Duplex {
  constructor(private readonly input: (chunk: Buffer) => void) {
    super();
  }

  override _read(): void {
    // Output is pushed as the fake guest prints.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.input(chunk);
    done();
  }
}

export class FakeConsole {
  private history = Buffer.alloc(0);
  private readonly sessions = new Set<FakeConsoleStream>();
  private line = "";
  /** Input typed while the guest is paused waits here (bounded like a tty buffer). */
  private pendingInput = "";

  constructor(
    /** What the fake guest does when a command stops it. */
    private readonly onExit: (exit: GuestExit) => void,
    private readonly canRun: () => "run" | "wait" | "ignore",
  ) {}

  print(text: string): void {
    const chunk = Buffer.from(text.replaceAll(/\r?\n/g, "\r\n"), "latin1");
    this.history = Buffer.concat([this.history, chunk]);
    if (this.history.length > historyBytesMax) {
      this.history = this.history.subarray(this.history.length - historyBytesMax);
    }
    for (const session of this.sessions) session.push(chunk);
  }

  attach(): GuestConsoleSession {
    const stream = new FakeConsoleStream((chunk) => this.type(chunk.toString("latin1")));
    this.sessions.add(stream);
    let closed = false;
    return {
      history: Buffer.from(this.history),
      stream,
      close: () => {
        if (!closed) {
          closed = true;
          this.sessions.delete(stream);
          stream.push(null);
          stream.destroy();
        }
        return Promise.resolve();
      },
    };
  }

  closeAll(): void {
    for (const stream of this.sessions) {
      stream.push(null);
      stream.destroy();
    }
    this.sessions.clear();
  }

  /** Runs input typed while paused. */
  resume(): void {
    const pending = this.pendingInput;
    this.pendingInput = "";
    this.type(pending);
  }

  private type(text: string): void {
    const mode = this.canRun();
    if (mode === "ignore") return;
    if (mode === "wait") {
      if (this.pendingInput.length + text.length <= lineBytesMax) this.pendingInput += text;
      return;
    }
    for (const char of text) {
      if (char === "\r" || char === "\n") {
        this.print("\n");
        const line = this.line;
        this.line = "";
        this.run(line.trim());
        if (this.canRun() !== "run") return;
      } else if (this.line.length < lineBytesMax) {
        this.line += char;
        this.print(char); // the terminal's echo
      }
    }
  }

  private run(command: string): void {
    if (command === "") return;
    if (command === consoleGuestCommands.poweroff) {
      this.print("reboot: Power down\n");
      this.onExit("poweroff");
    } else if (command === consoleGuestCommands.reboot) {
      this.print("reboot: Restarting system\n");
      this.onExit("reboot");
    } else if (command === consoleGuestCommands.crash) {
      this.print("Kernel panic - not syncing: sysrq triggered crash\n");
      this.onExit("crash");
    } else if (command === "echo" || command.startsWith("echo ")) {
      this.print(command.slice("echo ".length).replace(/^(["'])(.*)\1$/, "$2") + "\n");
    } else {
      this.print(`sh: ${command.split(" ")[0]}: not found\n`);
    }
  }
}
