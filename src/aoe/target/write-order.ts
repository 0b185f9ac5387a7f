/**
 * Per-export ordering of writes, so the disk ends up as the requests arrived whatever the I/O
 * completion order and whatever copies of old frames the link still delivers:
 *   - a write to sectors that overlap a write still in flight (or still waiting) waits for it, so
 *     two overlapping writes land in arrival order even when the backing store runs I/O
 *     concurrently (libuv's thread pool does);
 *   - a copy of a write whose tag, source MAC, offset and length match one in flight is not
 *     executed (the original's reply answers that tag);
 *   - a copy of a write that completed recently is not executed again but acknowledged (the first
 *     reply may have been lost). Executing it would be wrong: a newer write to the same sectors
 *     may have landed since (the seeded simulator found this with a link that duplicates a write
 *     frame and delivers the copy after the initiator's next write to those sectors).
 * AoEr11 3.1 lets an initiator reuse a tag only for a retransmission; Linux's aoe driver and ours
 * give every transmission a new tag, so a repeated (source, tag, offset, length) is a copy.
 * Pure bookkeeping: the export does the I/O. Bounded: in-flight writes are bounded by the
 * export's admission limit, remembered completions by the memory's size and by their age.
 *
 * Why an age limit: Linux's aoe driver builds a tag from a 15-bit per-device counter and the low
 * 16 bits of jiffies (`newtag()` in drivers/block/aoe/aoecmd.c), so a tag comes back after at
 * most 65,536 jiffies (65.5 s at HZ=1000, more below). On a read-mostly volume the last 1,024
 * writes can span longer than that; without a limit, a new write that happened to repeat an old
 * one's tag, sectors and length would be taken for a late copy and acknowledged unwritten.
 * A copy the link duplicated or delayed arrives within milliseconds, so completions older than
 * RECENT_WRITES_MAX_AGE_MS are forgotten, well inside the tag's shortest period.
 *
 * The memory of completed writes is a `WriteMemory`: `RecentWrites` here, or, when the native
 * fast path may execute the export's writes too (fast-path.ts), the addon's own
 * (native/af_packet/write-memory.c), which both paths record into and consult, so that a copy
 * is recognised whichever path completed the original. One memory rather than two kept in step:
 * nothing can make them disagree. They follow the same rules (write-memory.contract.ts).
 */
import { assert } from "../../foundation/assert.js";
import { realClock, type Clock } from "../../foundation/clock.js";
import type { WriteMemory as AdapterWriteMemory } from "../../net/raw-socket/raw-socket.js";

export interface OrderedWrite {
  /** Byte offset on the device. */
  offset: number;
  bytes: number;
  /** Request tag and the source MAC as a 48-bit number (`sourceKey`). */
  tag: number;
  source: number;
}

/** What to do with a write offered to `admit`. */
export type Admission =
  | "issue" // no overlap: issue it now
  | "wait" // overlaps an earlier write: `complete` of that write releases it
  | "in-flight-copy" // a copy of a write in flight or waiting: drop it
  | "done-copy"; // a copy of a write completed recently: acknowledge it without writing

/** Completions remembered for copies arriving late (a frame a link duplicated or delayed). */
export const RECENT_WRITES_MAX = 1024;

/** How long a completion is remembered (WRITE_MEMORY_MAX_AGE_MS in native/af_packet). */
export const RECENT_WRITES_MAX_AGE_MS = 30_000;

/** The source MAC of a frame as a number (48 bits fit a double exactly). */
export function sourceKey(frame: Buffer): number {
  return frame.readUIntBE(6, 6);
}

const overlaps = (a: OrderedWrite, b: OrderedWrite) =>
  a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes;

const sameWrite = (a: OrderedWrite, b: OrderedWrite) =>
  a.tag === b.tag && a.source === b.source && a.offset === b.offset && a.bytes === b.bytes;

interface Done {
  tag: number;
  source: number;
  offset: number;
  bytes: number;
  /** When it completed (the memory's clock). */
  atMs: number;
}

/**
 * The writes of an export completed recently: the last `RECENT_WRITES_MAX` of those that
 * completed less than `RECENT_WRITES_MAX_AGE_MS` ago, oldest forgotten first; by tag, the newest
 * completion with that tag counts (a tag reused by another initiator replaces the older one), and
 * a write is a copy when its source, offset and length match it.
 */
export interface WriteMemory extends AdapterWriteMemory {
  /** Whether `write` is a copy of a remembered completion. */
  has(write: OrderedWrite): boolean;
  remember(write: OrderedWrite): void;
  /**
   * How many of the export's writes TypeScript holds now (queued, in flight or waiting): while
   * not 0, a native fast path sharing this memory leaves the export's writes to TypeScript.
   */
  setPending(count: number): void;
}

export interface RecentWritesOptions {
  /** Completions remembered at most; RECENT_WRITES_MAX by default. */
  max?: number;
  /** Age at which a completion is forgotten; RECENT_WRITES_MAX_AGE_MS by default. */
  maxAgeMs?: number;
  /** The target's clock; the real one by default. */
  clock?: Clock;
}

/** The WriteMemory in TypeScript. */
export class RecentWrites implements WriteMemory {
  /** Completed writes by tag (one per tag: a tag reused by another initiator replaces it). */
  private readonly recent = new Map<number, Done>();
  /** The same entries in completion order, a ring: the oldest is forgotten first. */
  private readonly ring: Array<Done | undefined>;
  private ringNext = 0;
  private readonly recentMax: number;
  private readonly maxAgeMs: number;
  private readonly clock: Clock;

  constructor(options: RecentWritesOptions = {}) {
    this.recentMax = options.max ?? RECENT_WRITES_MAX;
    this.maxAgeMs = options.maxAgeMs ?? RECENT_WRITES_MAX_AGE_MS;
    this.clock = options.clock ?? realClock;
    assert(this.recentMax > 0, "max must be positive");
    assert(this.maxAgeMs > 0, "maxAgeMs must be positive");
    this.ring = new Array<Done | undefined>(this.recentMax);
  }

  has(write: OrderedWrite): boolean {
    const done = this.recent.get(write.tag);
    return (
      done !== undefined && this.clock.nowMs() - done.atMs < this.maxAgeMs && sameWrite(done, write)
    );
  }

  remember(write: OrderedWrite): void {
    const evicted = this.ring[this.ringNext];
    if (evicted && this.recent.get(evicted.tag) === evicted) this.recent.delete(evicted.tag);
    const entry: Done = {
      tag: write.tag,
      source: write.source,
      offset: write.offset,
      bytes: write.bytes,
      atMs: this.clock.nowMs(),
    };
    this.ring[this.ringNext] = entry;
    this.ringNext = (this.ringNext + 1) % this.recentMax;
    this.recent.set(write.tag, entry);
  }

  setPending(): void {
    // Nothing but TypeScript executes writes with this memory.
  }
}

export class WriteOrder<T extends OrderedWrite> {
  private readonly inFlight: T[] = [];
  private readonly waiting: T[] = [];

  constructor(private readonly memory: WriteMemory = new RecentWrites()) {}

  get inFlightCount(): number {
    return this.inFlight.length;
  }

  get waitingCount(): number {
    return this.waiting.length;
  }

  /** Offers a write in arrival order; "issue" and "wait" make it the order's until `complete`. */
  admit(write: T): Admission {
    if (this.memory.has(write)) return "done-copy";
    let conflict = false;
    for (const other of this.inFlight) {
      if (sameWrite(other, write)) return "in-flight-copy";
      if (!conflict && overlaps(other, write)) conflict = true;
    }
    for (const other of this.waiting) {
      if (sameWrite(other, write)) return "in-flight-copy";
      if (!conflict && overlaps(other, write)) conflict = true;
    }
    if (conflict) {
      this.waiting.push(write);
      return "wait";
    }
    this.inFlight.push(write);
    return "issue";
  }

  /**
   * Marks an issued write finished (`ok`: it is on the device, so a copy is acknowledged without
   * writing; a failed one may be tried again). Returns the waiting writes that may go now, in
   * arrival order; they are in flight from here.
   */
  complete(write: T, ok: boolean): T[] {
    const index = this.inFlight.indexOf(write);
    assert(index >= 0, "completed a write that was not in flight");
    this.inFlight.splice(index, 1);
    if (ok) this.memory.remember(write);
    if (this.waiting.length === 0) return [];
    const released: T[] = [];
    for (let i = 0; i < this.waiting.length;) {
      const candidate = this.waiting[i] as T;
      // It waits for anything in flight that overlaps it and for every earlier waiting write.
      let blocked = this.inFlight.some((other) => overlaps(other, candidate));
      for (let j = 0; !blocked && j < i; j++) blocked = overlaps(this.waiting[j] as T, candidate);
      if (blocked) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      this.inFlight.push(candidate);
      released.push(candidate);
    }
    return released;
  }
}
