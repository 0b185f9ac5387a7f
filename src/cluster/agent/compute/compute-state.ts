/**
 * What a compute agent remembers about each domain between passes and across its own restarts:
 * which generation it stopped by policy or failed to start (so it does not start it again), the
 * reboot it last asked for, the last exit and its restarts. One small JSON file, replaced
 * atomically (write, fsync, rename).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { replaceFileSync } from "../../../foundation/atomic-file.js";
import type { DomainObserved } from "../../model.js";

export interface DomainMemory {
  /** The generation the agent stopped by on_* policy, or could not start: not started again. */
  heldGeneration: number | null;
  heldError: string | null;
  appliedRebootSeq: number;
  lastExit: DomainObserved["lastExit"];
  restarts: number;
  /** A graceful shutdown asked for this generation, at this time. */
  shutdownGeneration: number | null;
  shutdownAskedMs: number;
  /** A preserved guest's exit already handled (its domid). */
  preservedDomid: number | null;
}

export function freshMemory(): DomainMemory {
  return {
    heldGeneration: null,
    heldError: null,
    appliedRebootSeq: 0,
    lastExit: null,
    restarts: 0,
    shutdownGeneration: null,
    shutdownAskedMs: 0,
    preservedDomid: null,
  };
}

export class ComputeState {
  private readonly domains = new Map<string, DomainMemory>();
  private dirty = false;

  constructor(private readonly file: string) {
    try {
      const saved = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, DomainMemory>;
      for (const [id, memory] of Object.entries(saved))
        this.domains.set(id, { ...freshMemory(), ...memory });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
        // A torn or foreign file: start afresh rather than refuse to run guests.
        fs.renameSync(file, `${file}.bad-${Date.now()}`);
      }
    }
  }

  get(id: string): DomainMemory {
    let memory = this.domains.get(id);
    if (!memory) {
      memory = freshMemory();
      this.domains.set(id, memory);
    }
    return memory;
  }

  update(id: string, patch: Partial<DomainMemory>): DomainMemory {
    const memory = { ...this.get(id), ...patch };
    this.domains.set(id, memory);
    this.dirty = true;
    return memory;
  }

  /** Forgets domains no longer assigned to this host. */
  retain(ids: ReadonlySet<string>): void {
    for (const id of [...this.domains.keys()])
      if (!ids.has(id)) {
        this.domains.delete(id);
        this.dirty = true;
      }
  }

  save(): void {
    if (!this.dirty) return;
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    replaceFileSync(this.file, JSON.stringify(Object.fromEntries(this.domains)));
    this.dirty = false;
  }
}
