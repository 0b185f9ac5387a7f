/**
 * A fake state store in memory for simulations: the target's in-memory store
 * (MemoryExportStateStore, which keeps each export's state with its backing) plus a count of the
 * saves, so a simulation can assert that no state changed without a valid request.
 */
import type { Backing } from "../../src/aoe/target/backing.js";
import { MemoryExportStateStore, type ExportState } from "../../src/aoe/target/export-state.js";

export class MemoryStateStore extends MemoryExportStateStore {
  saves = 0;

  override save(key: string, backing: Backing, state: ExportState): Promise<void> {
    this.saves++;
    return super.save(key, backing, state);
  }
}
