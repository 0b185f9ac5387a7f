/**
 * An export's MAC mask list, reservation and config string, as the export sees them: the current
 * value for checks on every frame, and edits that run one at a time (so none starts from a stale
 * list), each saved to the store before it becomes current and before the wire is answered.
 */
import { errorMessage } from "../../foundation/errors.js";
import type { Logger } from "../../foundation/log.js";
import { macToString, type AoeHeader } from "../codec/index.js";
import type { ExportState, ExportStateStore } from "./export-state.js";

/** Whether the frame behind `header` came from a MAC in `list` (no allocation). */
function fromOneOf(list: readonly Buffer[], header: AoeHeader): boolean {
  for (const entry of list) if (header.isFrom(entry)) return true;
  return false;
}

export class PersistedExportState {
  private state: ExportState;
  private chain: Promise<void> = Promise.resolve();
  /**
   * Called synchronously when a new state becomes current, before the edit's reply goes out
   * and before any other frame is looked at (the target re-pushes its native fast path table).
   */
  onChange: (() => void) | undefined;

  constructor(
    private readonly key: string,
    initial: ExportState,
    private readonly store: ExportStateStore,
    private readonly log: Logger,
  ) {
    this.state = initial;
  }

  get current(): Readonly<ExportState> {
    return this.state;
  }

  /** An empty mask list lets everyone in; otherwise only the MACs on it (AoEr11 3.3). */
  allows(header: AoeHeader): boolean {
    return this.state.macMask.length === 0 || fromOneOf(this.state.macMask, header);
  }

  /** A non-empty reservation excludes every MAC not on it (AoEr11 3.4). */
  reservedAgainst(header: AoeHeader): boolean {
    return this.state.reservation.length > 0 && !fromOneOf(this.state.reservation, header);
  }

  /**
   * Computes the new state from the current one, saves it, and only then makes it current and
   * calls `done(true)`. `edit` returns undefined to refuse (`done(false)`); a failed save calls
   * `failed` and leaves the state as it was.
   */
  edit(
    edit: (state: ExportState) => ExportState | undefined,
    done: (changed: boolean) => void,
    failed: () => void,
  ): void {
    this.chain = this.chain.then(async () => {
      const next = edit(this.state);
      if (!next) return done(false);
      try {
        await this.store.save(this.key, next);
      } catch (error) {
        this.log.error(`cannot persist state of e${this.key}`, { error: errorMessage(error) });
        return failed();
      }
      this.state = next;
      this.onChange?.();
      this.log.info(`e${this.key} state changed`, {
        macMask: next.macMask.map(macToString).join(","),
        reservation: next.reservation.map(macToString).join(","),
      });
      done(true);
    });
  }

  /** The admin's change (config reload, control plane): persisted, then applied atomically. */
  replace(patch: Partial<ExportState>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.edit(
        (state) => ({ ...state, ...patch }),
        () => resolve(),
        () => reject(new Error(`cannot persist state of e${this.key}`)),
      );
    });
  }

  /** Resolves when every edit queued so far has finished. */
  settled(): Promise<void> {
    return this.chain;
  }
}
