/**
 * What changed in the store, pushed to the web UI (server-sent events) instead of every browser
 * polling every list. One shared check per interval, and only while someone listens: it digests
 * each topic's list and tells listeners which topics changed, so a browser refetches just those.
 * Bounded: listeners, and one check in flight at a time.
 */
import { createHash } from "node:crypto";
import { EtherplaneError } from "../foundation/errors.js";

/** `events`: the cluster's event log has new lines (`etherplane events --follow` reads them). */
export const TOPICS = ["hosts", "pools", "volumes", "domains", "tasks", "events"] as const;
export type Topic = (typeof TOPICS)[number];
export const FEED_LISTENERS_MAX = 64;
export const FEED_INTERVAL_MS = 1000;

/** Each topic's current state as text (JSON); only its digest is kept. */
export type Snapshot = () => Promise<Record<Topic, string>>;
export type FeedListener = (change: { version: number; topics: Topic[] }) => void;

export class ChangeFeed {
  /** Each listener, with what to call when the feed stops (the controller shuts down). */
  private readonly listeners = new Map<FeedListener, () => void>();
  private digests: Partial<Record<Topic, string>> = {};
  private version = 0;
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;

  constructor(
    private readonly snapshot: Snapshot,
    private readonly onError: (error: unknown) => void,
    private readonly intervalMs = FEED_INTERVAL_MS,
    private readonly listenersMax = FEED_LISTENERS_MAX,
  ) {}

  /** Adds a listener (UNAVAILABLE when full); returns its removal. `onStop` ends its stream. */
  subscribe(listener: FeedListener, onStop: () => void = () => undefined): () => void {
    if (this.listeners.size >= this.listenersMax)
      throw new EtherplaneError(
        "UNAVAILABLE",
        `${this.listenersMax} browsers follow the controller already; close a tab and retry`,
      );
    this.listeners.set(listener, onStop);
    if (!this.timer) {
      this.timer = setInterval(() => void this.check(), this.intervalMs);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stopTimer();
    };
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Digests every topic and tells listeners what changed; one check at a time. */
  check(): Promise<void> {
    this.checking ??= this.compare().finally(() => (this.checking = null));
    return this.checking;
  }

  /** Stops checking and tells every listener it is over. */
  stop(): void {
    this.stopTimer();
    const stops = [...this.listeners.values()];
    this.listeners.clear();
    for (const onStop of stops) onStop();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async compare(): Promise<void> {
    let texts: Record<Topic, string>;
    try {
      texts = await this.snapshot();
    } catch (error) {
      this.onError(error);
      return;
    }
    const changed = TOPICS.filter((topic) => {
      const digest = createHash("sha256").update(texts[topic]).digest("hex");
      if (this.digests[topic] === digest) return false;
      this.digests[topic] = digest;
      return true;
    });
    if (changed.length === 0) return;
    this.version += 1;
    for (const listener of [...this.listeners.keys()])
      listener({ version: this.version, topics: changed });
  }
}
