/**
 * The initiator's frames awaiting a reply, indexed by their tag. AoEr11 (section 3.1) leaves the
 * tag to the initiator and has the target echo it, so our tags say where their exchange is: the
 * low 16 bits index a slot of this table, bits 16-30 are that slot's generation (bumped at every
 * use, so a late reply to an earlier send of the slot is recognised as stale), and bit 31 marks a
 * userland initiator (the Linux driver's tags have it clear, aoecmd.c newtag()). A reply is matched
 * with one array index and one comparison: no Map, no per-frame key objects.
 */
import { assert } from "../../foundation/assert.js";

/** Tags with the top bit set belong to userland tools; the kernel's have it clear. */
export const TAG_USERLAND = 0x80000000;
const INDEX_BITS = 16;
const INDEX_MASK = (1 << INDEX_BITS) - 1;
const GENERATION_MASK = 0x7fff;
/** Index 0xffff is never a slot: tags with it are broadcast listeners' (`listenerTag`). */
export const IN_FLIGHT_SLOTS_MAX = INDEX_MASK;

export class InFlightTable<T> {
  private readonly entries: Array<T | undefined> = [];
  private readonly generations: number[] = [];
  /** Free slot indices, the latest freed last (reused first: the table stays small and warm). */
  private readonly free: number[] = [];
  private listenerGeneration: number;
  size = 0;

  /** `generationBase`: the generation every slot starts from (random, so that a restarted
   * initiator does not reuse the tags its previous run had in flight). */
  constructor(private readonly generationBase: number) {
    this.listenerGeneration = generationBase & GENERATION_MASK;
  }

  /** Puts `entry` in a free slot and returns the tag that finds it. */
  add(entry: T): number {
    let index = this.free.pop();
    if (index === undefined) {
      index = this.entries.length;
      assert(index < IN_FLIGHT_SLOTS_MAX, "more than 65535 AoE frames in flight");
      this.entries.push(undefined);
      this.generations.push(this.generationBase & GENERATION_MASK);
    }
    const generation = ((this.generations[index] as number) + 1) & GENERATION_MASK;
    this.generations[index] = generation;
    this.entries[index] = entry;
    this.size++;
    return (TAG_USERLAND | (generation << INDEX_BITS) | index) >>> 0;
  }

  /** The entry `tag` was given for, if it is still in the table (else a stale or foreign tag). */
  get(tag: number): T | undefined {
    const index = tag & INDEX_MASK;
    const entry = this.entries[index];
    if (entry === undefined || tag >>> 0 !== this.tagOf(index)) return undefined;
    return entry;
  }

  /** Frees `tag`'s slot; its later replies are stale. */
  remove(tag: number): void {
    const index = tag & INDEX_MASK;
    // (The message is built only on failure: this runs for every frame.)
    if (this.get(tag) === undefined) assert(false, `tag ${tag} is not in flight`);
    this.entries[index] = undefined;
    this.free.push(index);
    this.size--;
  }

  /** Calls `visit` with each entry and its tag (entries may be removed during the walk). */
  forEach(visit: (entry: T, tag: number) => void): void {
    for (let index = 0; index < this.entries.length; index++) {
      const entry = this.entries[index];
      if (entry !== undefined) visit(entry, this.tagOf(index));
    }
  }

  /** Removes every entry and returns them. */
  clear(): T[] {
    const all = this.entries.filter((entry): entry is T => entry !== undefined);
    for (let index = 0; index < this.entries.length; index++) {
      if (this.entries[index] !== undefined) {
        this.entries[index] = undefined;
        this.free.push(index);
      }
    }
    this.size = 0;
    return all;
  }

  /** A tag no slot will ever carry, for replies to a broadcast (discovery). */
  listenerTag(): number {
    this.listenerGeneration = (this.listenerGeneration + 1) & GENERATION_MASK;
    return (TAG_USERLAND | (this.listenerGeneration << INDEX_BITS) | INDEX_MASK) >>> 0;
  }

  private tagOf(index: number): number {
    return (TAG_USERLAND | ((this.generations[index] as number) << INDEX_BITS) | index) >>> 0;
  }
}
