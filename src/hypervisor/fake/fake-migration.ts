/**
 * A FAKE GuestMigrator for the fake driver (fast tests of the migration control flow). The
 * "state" sent is one JSON line: the guest's uuid and what its console printed; the destination's
 * guest waits paused until the line arrives, then runs. `FakeHost.incomingFailure` makes a
 * destination fail after reading (as a destination killed during the transfer); the source's
 * guest then runs on, as QEMU resumes it.
 */
import type { Duplex } from "node:stream";
import { EtherplaneError } from "../../foundation/errors.js";
import type { GuestInfo, GuestSpec } from "../driver.js";
import type {
  GuestMigrator,
  IncomingGuest,
  MigrationProgress,
  MigrationReport,
} from "../migration.js";

const STATE_BYTES_MAX = 1024 * 1024;

export interface FakeMigrationGuests {
  create(spec: GuestSpec): Promise<GuestInfo>;
  destroy(name: string, uuid?: string): Promise<void>;
  list(): Promise<GuestInfo[]>;
  /** Sets a guest's phase: paused (waiting, or stopped after sending) or running. */
  setPaused(name: string, paused: boolean): void;
  /** Set: the next incoming migration fails with this message. */
  incomingFailure(): string | null;
}

function readAll(stream: Duplex): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    stream.on("data", (chunk: Buffer) => {
      text += chunk.toString("utf8");
      if (text.length > STATE_BYTES_MAX) stream.destroy(new Error("state too large"));
    });
    stream.once("end", () => resolve(text));
    stream.once("error", reject);
    stream.once("close", () => resolve(text));
  });
}

export class FakeGuestMigrator implements GuestMigrator {
  constructor(private readonly guests: FakeMigrationGuests) {}

  async prepareIncoming(spec: GuestSpec): Promise<IncomingGuest> {
    await this.guests.create(spec);
    this.guests.setPaused(spec.name, true);
    const discard = () =>
      this.guests.destroy(spec.name, spec.uuid).catch((error: unknown) => {
        if (!(error instanceof EtherplaneError && error.code === "NOT_FOUND")) throw error;
      });
    return {
      receive: async (stream) => {
        const text = await readAll(stream);
        stream.end(); // the source learns that everything arrived (or not)
        const failure = this.guests.incomingFailure();
        let uuid: unknown;
        try {
          uuid = (JSON.parse(text) as { uuid?: unknown }).uuid;
        } catch {
          uuid = undefined;
        }
        if (failure !== null || uuid !== spec.uuid) {
          await discard();
          throw new EtherplaneError(
            "UNAVAILABLE",
            `guest ${spec.name}: ${failure ?? "the incoming state was cut short"}`,
          );
        }
        this.guests.setPaused(spec.name, false);
        const guest = (await this.guests.list()).find((g) => g.name === spec.name);
        if (!guest) throw new EtherplaneError("IO_ERROR", `guest ${spec.name} vanished`);
        return guest;
      },
      discard,
    };
  }

  async send(
    name: string,
    uuid: string,
    stream: Duplex,
    onProgress: (progress: MigrationProgress) => void,
  ): Promise<MigrationReport> {
    const guest = (await this.guests.list()).find((g) => g.name === name && g.uuid === uuid);
    if (!guest?.state.running)
      throw new EtherplaneError("CONFLICT", `guest ${name} is not running here`);
    const state = Buffer.from(`${JSON.stringify({ uuid })}\n`);
    onProgress({
      transferredBytes: 0,
      remainingBytes: state.length,
      totalBytes: state.length,
      dirtyPagesRate: 0,
      expectedDowntimeMs: 1,
    });
    const startedMs = Date.now();
    this.guests.setPaused(name, true);
    try {
      await new Promise<void>((resolve, reject) => {
        stream.once("error", reject);
        stream.end(state, () => resolve());
      });
      // The destination reads to the end, then closes: it has it all (or failed).
      await readAll(stream);
    } catch (error) {
      this.guests.setPaused(name, false);
      throw new EtherplaneError(
        "UNAVAILABLE",
        `guest ${name}: the transfer failed; it runs on here`,
        {
          cause: error,
        },
      );
    }
    return { transferredBytes: state.length, totalTimeMs: Date.now() - startedMs, downtimeMs: 1 };
  }
}
