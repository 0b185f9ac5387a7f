/**
 * The cluster's event log (`etherplane events`): what happened, when, to what. Services record
 * into it (domains started, stopped, crashed and placed; hosts joined and their state; the steps
 * of a maintenance; later migrations and HA); the store keeps the newest `rowsMax` rows, the
 * oldest pruned at each append. Listeners (the API's event stream) hear of each new event.
 */
import { FlushPacer } from "./flush-pacer.js";
import { assert } from "../../foundation/assert.js";
import type { EventFieldValue, EventRecord } from "../model.js";
import type { EventFilter, Store } from "../store/store.js";

export const EVENTS_ROWS_MAX_DEFAULT = 10_000;
export const EVENT_SUBJECT_CHARS_MAX = 256;
export const EVENT_MESSAGE_CHARS_MAX = 2048;
export const EVENT_FIELDS_MAX = 32;
export const EVENT_FIELD_CHARS_MAX = 512;
/** Kinds are ours (code, not input): dotted lower case, e.g. domain.started, host.maintenance. */
const KIND = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,3}$/;

export type EventFields = Record<string, EventFieldValue>;
export type EventListener = (event: EventRecord) => void;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}\u2026`;
}

/** Events written in one transaction at most (the rest go in the next). */
export const EVENTS_BATCH_MAX = 1000;

interface PendingEvent {
  entry: Omit<EventRecord, "id">;
  resolve(event: EventRecord): void;
  reject(error: unknown): void;
}

export class EventLog {
  private readonly listeners = new Set<EventListener>();
  /** When the next batch goes out (flush-pacer.ts: fewer commits when the disk is slow). */
  private readonly pacer = new FlushPacer(() => this.flush());
  private readonly pending: PendingEvent[] = [];

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
    readonly rowsMax: number = EVENTS_ROWS_MAX_DEFAULT,
  ) {
    assert(Number.isSafeInteger(rowsMax) && rowsMax >= 1, `EventLog rowsMax ${rowsMax}`);
  }

  /**
   * Appends an event (with the others recorded in this turn of the event loop: one transaction;
   * resolves once it is stored). `kind` is the code's own (asserted); subject, message and string fields
   * may carry names from users, so they are clipped to their bounds rather than refused.
   */
  record(
    kind: string,
    subject: string,
    message: string,
    fields: EventFields = {},
  ): Promise<EventRecord> {
    assert(KIND.test(kind), `event kind "${kind}" is not dotted lower case`);
    const entries = Object.entries(fields);
    assert(entries.length <= EVENT_FIELDS_MAX, `event ${kind} has ${entries.length} fields`);
    const entry: Omit<EventRecord, "id"> = {
      timeMs: this.now(),
      kind,
      subject: clip(subject, EVENT_SUBJECT_CHARS_MAX),
      message: clip(message, EVENT_MESSAGE_CHARS_MAX),
      fields: Object.fromEntries(
        entries.map(([k, v]) => [k, typeof v === "string" ? clip(v, EVENT_FIELD_CHARS_MAX) : v]),
      ),
    };
    return new Promise<EventRecord>((resolve, reject) => {
      this.pending.push({ entry, resolve, reject });
      this.pacer.request();
    });
  }

  /**
   * Writes the events recorded in one turn of the event loop in one transaction: each write is an
   * fsync on the event loop (better-sqlite3 is synchronous), and a burst (1,000 agents' first
   * reports, the HA steps of many hosts) written one by one stalled the controller for a minute.
   */
  private async flush(): Promise<void> {
    const batch = this.pending.splice(0, EVENTS_BATCH_MAX);
    if (this.pending.length > 0) this.pacer.request();
    let ids: number[];
    try {
      ids = await this.store.appendEvents(
        batch.map((p) => p.entry),
        this.rowsMax,
      );
    } catch (error) {
      for (const p of batch) p.reject(error);
      return;
    }
    batch.forEach((p, i) => {
      const event = { id: ids[i] ?? 0, ...p.entry };
      for (const listener of [...this.listeners]) listener(event);
      p.resolve(event);
    });
  }

  list(filter: EventFilter = {}): Promise<EventRecord[]> {
    return this.store.listEvents(filter);
  }

  /** Calls `listener` after each event is stored; returns its removal. */
  listen(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
