/**
 * The target's side of the native fast path (native/af_packet/fast-path.c): which exports of each
 * interface may have their plain ATA READs, and WRITEs, answered in C, pushed down as a whole new
 * table whenever anything it depends on changes (routes, MAC mask lists, reservations, MTU,
 * durability, stop), and the addon's counters folded back into the exports' own, so stats show
 * the same totals either way. Everything else (discovery, config, masks, reservations, IDENTIFY,
 * FLUSH, copies of writes, anything the C code is not sure about) stays with the TypeScript target.
 *
 * Reads: a read never changes the disk, and a read answered before a write that is still in
 * flight returns data the initiator may legitimately see (the write is not acknowledged yet).
 * Writes, only for exports whose TypeScript path replies right after pwritev (not durable: a
 * durable export's reply waits for its group commit; not read-only: refused in TypeScript), keep
 * the export's write order (write-order.ts) across both paths: the export's memory of completed
 * writes is the addon's, shared by both (so a late copy of a write is acknowledged, not executed,
 * whichever path did the original), and the addon takes an export's writes only while
 * TypeScript holds none of them (`WriteMemory.setPending`), so the two never have overlapping
 * writes in flight at once. Within one received batch the addon keeps an export's frames in
 * arrival order: once one goes to JavaScript, the export's later frames of that batch follow it.
 */
import type { NativeFastPath, RawSocket, WriteMemory } from "../../net/raw-socket/raw-socket.js";
import type { AoeExport } from "./aoe-export.js";
import {
  admittedSources,
  encodeFastPathTable,
  FAST_PATH_COUNTERS_PER_EXPORT,
  FAST_PATH_EXPORTS_MAX,
  type FastPathExport,
} from "./fast-path-table.js";

/** What the fast path needs of one of the target's ports. */
export interface FastPathPort {
  readonly socket: RawSocket;
  readonly mac: Buffer;
  readonly sectorsMax: number;
  readonly exports: ReadonlyMap<number, AoeExport>;
}

/** A table entry with the export it stands for. */
interface Pushed {
  entry: FastPathExport;
  export: AoeExport;
  memory: WriteMemory | undefined;
}

export class TargetFastPath {
  /** Per socket, the exports of the table in force, in table order (for its counters). */
  private readonly pushed = new Map<NativeFastPath, AoeExport[]>();
  /** Frames the addon answered, for the target's own framesIn. */
  framesAnswered = 0;

  constructor(private readonly enabled: boolean) {}

  /**
   * Replaces every port's table with one built from what the target serves now (nothing once
   * it is stopping). Synchronous: no frame is processed between the change and the new table.
   */
  push(ports: Iterable<FastPathPort>, stopping: boolean): void {
    for (const port of ports) {
      const native = port.socket.fastPath;
      if (!native) continue;
      const entries = this.enabled && !stopping ? this.entriesOf(port) : [];
      if (entries.length === 0 && !this.pushed.has(native)) continue; // nothing pushed, nothing to take back
      const table =
        entries.length === 0
          ? null
          : encodeFastPathTable(
              port.mac,
              port.sectorsMax,
              entries.map((p) => p.entry),
            );
      const memories = entries.map((p) => (p.entry.writable ? p.memory : undefined));
      this.fold(native, native.setTable(table, memories));
      if (table)
        this.pushed.set(
          native,
          entries.map((p) => p.export),
        );
      else this.pushed.delete(native);
    }
  }

  /** Adds what the addon answered since the last call to the exports' counters. */
  collect(ports: Iterable<FastPathPort>): void {
    for (const port of ports) {
      const native = port.socket.fastPath;
      if (native && this.pushed.has(native)) this.fold(native, native.takeCounters());
    }
  }

  private entriesOf(port: FastPathPort): Pushed[] {
    const entries: Pushed[] = [];
    for (const e of port.exports.values()) {
      const file = e.device.nativeFile?.();
      const { macMask, reservation } = e.currentState();
      const admitted = admittedSources(macMask, reservation);
      if (!file || admitted === null || entries.length === FAST_PATH_EXPORTS_MAX) continue;
      // Writes natively only where TypeScript's own reply does not wait for a flush, and where
      // the export's write order shares the addon's memory of completed writes.
      const memory = e.nativeWriteMemory;
      const writable = memory !== undefined && !e.settings.readOnly && !e.settings.durable;
      entries.push({
        export: e,
        memory,
        entry: {
          writable,
          shelf: e.shelf,
          slot: e.slot,
          fd: file.fd,
          sectors: e.sectors,
          memoryBacked: file.memoryBacked,
          admitted,
        },
      });
    }
    // The table's order (encodeFastPathTable sorts the same way), for the counters.
    return entries.sort(
      (a, b) => a.export.shelf * 256 + a.export.slot - (b.export.shelf * 256 + b.export.slot),
    );
  }

  private fold(native: NativeFastPath, counters: readonly number[]): void {
    const exports = this.pushed.get(native) ?? [];
    exports.forEach((e, i) => {
      const at = i * FAST_PATH_COUNTERS_PER_EXPORT;
      const frames = counters[at] ?? 0;
      const bytes = counters[at + 1] ?? 0;
      const ioCalls = counters[at + 2] ?? 0;
      const writes = counters[at + 3] ?? 0;
      const writtenBytes = counters[at + 4] ?? 0;
      const c = e.counters;
      c.framesIn += frames + writes;
      c.framesOut += frames + writes;
      c.readRequests += frames;
      c.fastPathReads += frames;
      c.readBytes += bytes;
      c.writeRequests += writes;
      c.fastPathWrites += writes;
      c.writtenBytes += writtenBytes;
      c.ioCalls += ioCalls;
      this.framesAnswered += frames + writes;
    });
  }
}
