/**
 * The initiator's frames awaiting a reply, indexed by their tag. AoEr11 (section 3.1) leaves the
 * tag to the initiator and has the target echo it. Our tags count up (31 bits, then bit 31 set
 * to mark a userland initiator; the Linux driver's tags have it clear, aoecmd.c newtag()), so a
 * tag comes back only after 2^31 sends: a target that remembers completed writes by tag
 * (aoe/target/write-order.ts) never takes a new write for a copy of an old one.
 *
 * The table is a power-of-two array indexed by the tag's low bits: a reply is matched with one
 * index and one comparison, no Map and no key objects. A new tag whose slot is taken (a frame
 * still retransmitting from long ago) is skipped; the table doubles when half full, and since
 * distinct slots under the old mask stay distinct under the larger one, entries move without
 * collisions.
 */
import { assert } from "../../foundation/assert.js";

/** Tags with the top bit set belong to userland tools; the kernel's have it clear. */
export const TAG_USERLAND = 0x80000000;
const COUNTER_MASK = 0x7fffffff;
/** Frames in flight at most: windows are the targets' buffer counts, up to 65535 a path. */
export const IN_FLIGHT_SLOTS_MAX = 65535;
const CAPACITY_MIN = 64;

export class InFlightTable<T> {
  private entries: Array<T | undefined> = new Array<T | undefined>(CAPACITY_MIN).fill(undefined);
  /** The tag of each occupied slot. */
  private tags: number[] = new Array<number>(CAPACITY_MIN).fill(0);
  private mask = CAPACITY_MIN - 1;
  private counter: number;
  size = 0;

  /** `firstTag`: where the count starts (random, so that a restarted initiator does not reuse
   * the tags its previous run had in flight; simulations set it for replay). */
  constructor(firstTag: number) {
    this.counter = firstTag & COUNTER_MASK;
  }

  /** Puts `entry` in the table under a new tag, and returns the tag. */
  add(entry: T): number {
    assert(this.size < IN_FLIGHT_SLOTS_MAX, "more than 65535 AoE frames in flight");
    if ((this.size + 1) * 2 > this.entries.length) this.grow();
    let tag = this.nextTag();
    while (this.entries[tag & this.mask] !== undefined) tag = this.nextTag();
    const index = tag & this.mask;
    this.entries[index] = entry;
    this.tags[index] = tag;
    this.size++;
    return tag;
  }

  /** The entry `tag` was given for, if it is still in the table (else a stale or foreign tag). */
  get(tag: number): T | undefined {
    const index = tag & this.mask;
    const entry = this.entries[index];
    if (entry === undefined || this.tags[index] !== tag >>> 0) return undefined;
    return entry;
  }

  /** Frees `tag`'s slot; its later replies are stale. */
  remove(tag: number): void {
    // (The message is built only on failure: this runs for every frame.)
    if (this.get(tag) === undefined) assert(false, `tag ${tag} is not in flight`);
    this.entries[tag & this.mask] = undefined;
    this.size--;
  }

  /** Calls `visit` with each entry and its tag (entries may be removed during the walk). */
  forEach(visit: (entry: T, tag: number) => void): void {
    const entries = this.entries;
    for (let index = 0; index < entries.length; index++) {
      const entry = entries[index];
      if (entry !== undefined) visit(entry, this.tags[index] as number);
    }
  }

  /** Removes every entry and returns them. */
  clear(): T[] {
    const all = this.entries.filter((entry): entry is T => entry !== undefined);
    this.entries.fill(undefined);
    this.size = 0;
    return all;
  }

  /** A tag for replies to a broadcast (discovery): taken from the same count, never in flight. */
  listenerTag(): number {
    return this.nextTag();
  }

  private nextTag(): number {
    this.counter = (this.counter + 1) & COUNTER_MASK;
    return (TAG_USERLAND | this.counter) >>> 0;
  }

  private grow(): void {
    const entries = this.entries;
    const tags = this.tags;
    const capacity = entries.length * 2;
    this.entries = new Array<T | undefined>(capacity).fill(undefined);
    this.tags = new Array<number>(capacity).fill(0);
    this.mask = capacity - 1;
    for (let index = 0; index < entries.length; index++) {
      const entry = entries[index];
      if (entry === undefined) continue;
      const tag = tags[index] as number;
      assert(this.entries[tag & this.mask] === undefined, "tags collided while the table grew");
      this.entries[tag & this.mask] = entry;
      this.tags[tag & this.mask] = tag;
    }
  }
}
