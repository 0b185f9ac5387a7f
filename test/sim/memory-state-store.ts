/** A fake ExportStateStore in memory (copies in and out, like a file would), for simulations. */
import {
  emptyExportState,
  type ExportState,
  type ExportStateStore,
} from "../../src/aoe/target/export-state.js";

function copy(state: ExportState): ExportState {
  return {
    macMask: state.macMask.map((mac) => Buffer.from(mac)),
    reservation: state.reservation.map((mac) => Buffer.from(mac)),
    configString: Buffer.from(state.configString),
  };
}

export class MemoryStateStore implements ExportStateStore {
  readonly saved = new Map<string, ExportState>();
  saves = 0;

  load(key: string): Promise<ExportState> {
    const state = this.saved.get(key);
    return Promise.resolve(state ? copy(state) : emptyExportState());
  }

  save(key: string, state: ExportState): Promise<void> {
    this.saves++;
    this.saved.set(key, copy(state));
    return Promise.resolve();
  }
}
