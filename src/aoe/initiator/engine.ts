/**
 * The initiator's frame engine: sends request frames over paths (an interface and a target MAC),
 * matches replies by tag, keeps each path's window of outstanding frames, estimates RTT and
 * retransmits on timeout with a fresh tag (the Linux initiator does the same: resend() takes
 * newtag(), drivers/block/aoe/aoecmd.c; so a target must be idempotent, and a late reply to an old tag is simply ignored).
 * Replies are matched through the tag-indexed InFlightTable; one sweep timer per engine checks
 * every frame's retransmission deadline.
 */
import { realClock, type Clock, type Timer } from "../../foundation/clock.js";
import { EtherplaneError } from "../../foundation/errors.js";
import type { RawSocket } from "../../net/raw-socket/raw-socket.js";
import {
  AOE_FLAG_RESPONSE,
  AOE_TAG,
  ETH_DST,
  ETH_SRC,
  decodeHeader,
  isInvalid,
  type AoeHeader,
} from "../codec/index.js";
import { IN_FLIGHT_SLOTS_MAX, InFlightTable } from "./in-flight-table.js";

const RTO_INITIAL_MS = 100;
const RTO_MIN_MS = 20;
const RTO_MAX_MS = 2000;
const SWEEP_MS = 5;
/** A path with this many timeouts in a row stops taking new frames until it answers again. */
const PATH_DOWN_AFTER_TIMEOUTS = 8;

export interface Path {
  readonly socket: RawSocket;
  readonly targetMac: Buffer;
  /** `targetMac` as two numbers (bytes 0-3, 4-5): a reply's source is checked without a call. */
  readonly targetMacHigh: number;
  readonly targetMacLow: number;
  /** Frames this path may have outstanding: the target's advertised buffer count. */
  window: number;
  inFlight: number;
  srttMs: number;
  rttvarMs: number;
  rtoMs: number;
  consecutiveTimeouts: number;
  replies: number;
}

export function newPath(socket: RawSocket, targetMac: Buffer, window: number): Path {
  return {
    socket,
    targetMac: Buffer.from(targetMac),
    targetMacHigh: targetMac.readUInt32BE(0),
    targetMacLow: targetMac.readUInt16BE(4),
    window: Math.max(1, window),
    inFlight: 0,
    srttMs: 0,
    rttvarMs: 0,
    rtoMs: RTO_INITIAL_MS,
    consecutiveTimeouts: 0,
    replies: 0,
  };
}

/** One request awaiting its reply. The frame's tag and destination are filled in at each send. */
export interface Exchange {
  frame: Buffer;
  /** Paths it may use; the engine picks the least busy one with room. */
  paths: readonly Path[];
  /** Absolute time (ms, on the engine's `clock`) after which it fails with TIMEOUT. */
  deadlineMs: number;
  /**
   * Called with the reply frame (already matched by tag and source MAC). With `borrowsReply` the
   * frame is valid during the call only (the socket may receive the next batch into it): copy
   * out what you keep. Without it the engine hands over a copy of its own.
   */
  onReply(frame: Buffer, header: AoeHeader): void;
  borrowsReply?: boolean;
  onFail(error: EtherplaneError): void;
  // Engine bookkeeping.
  tag?: number;
  path?: Path;
  sentAtMs?: number;
  attempts?: number;
}

/** Receives replies to a broadcast (each a copy it may keep), with the socket it came in on. */
export type Listener = (frame: Buffer, header: AoeHeader, socket: RawSocket) => void;

export interface EngineStats {
  sent: number;
  retransmits: number;
  replies: number;
  staleReplies: number;
  timeouts: number;
}

export interface EngineOptions {
  /** Time for RTT samples, retransmission and deadlines; the real clock by default. */
  clock?: Clock;
  /** The first tag's low 31 bits (random by default; simulations set it for replay). */
  firstTag?: number;
}

export class InitiatorEngine {
  readonly clock: Clock;
  private readonly pending: InFlightTable<Exchange>;
  private readonly queue: Exchange[] = [];
  private readonly listeners = new Map<number, Listener>();
  private sweepTimer: Timer | undefined;
  /** The time read once for a whole receive batch (and the sends it causes), else undefined. */
  private batchNowMs: number | undefined;
  private closed = false;
  readonly counters: EngineStats = {
    sent: 0,
    retransmits: 0,
    replies: 0,
    staleReplies: 0,
    timeouts: 0,
  };

  constructor(
    readonly sockets: readonly RawSocket[],
    options: EngineOptions = {},
  ) {
    this.clock = options.clock ?? realClock;
    const firstTag = options.firstTag ?? Math.floor(Math.random() * 0x7fffffff);
    this.pending = new InFlightTable(firstTag);
    for (const socket of sockets) socket.onFrames((frames) => this.receive(socket, frames));
  }

  /**
   * The clock's time; while a receive batch is handled, the time read at its start (one clock
   * read per batch rather than several per frame: the batch is handled in one go).
   */
  nowMs(): number {
    return this.batchNowMs ?? this.clock.nowMs();
  }

  /** A tag for `listen`: no request frame carries it. */
  allocateTag(): number {
    return this.pending.listenerTag();
  }

  /** Receives every reply carrying `tag` (broadcast discovery) until the returned function is called. */
  listen(tag: number, handler: Listener): () => void {
    this.listeners.set(tag, handler);
    return () => this.listeners.delete(tag);
  }

  submit(exchange: Exchange): void {
    if (this.closed) {
      exchange.onFail(new EtherplaneError("CLOSED", "the AoE initiator is closed"));
      return;
    }
    exchange.attempts = 0;
    // The common case: nothing waits, so the frame goes out without passing through the queue.
    const path = this.queue.length === 0 ? this.pickPath(exchange) : undefined;
    if (path) {
      this.send(exchange, path);
      this.armSweep();
      return;
    }
    this.queue.push(exchange);
    this.pump();
  }

  private pickPath(exchange: Exchange): Path | undefined {
    // Windows are the targets' advertised buffer counts (up to 65535 a path): the table's size
    // bounds their sum, and what does not fit waits in the queue.
    if (this.pending.size >= IN_FLIGHT_SLOTS_MAX) return undefined;
    let best: Path | undefined;
    for (const path of exchange.paths) {
      if (path.inFlight >= path.window) continue;
      const down = path.consecutiveTimeouts >= PATH_DOWN_AFTER_TIMEOUTS;
      if (!best) {
        best = path;
        continue;
      }
      const bestDown = best.consecutiveTimeouts >= PATH_DOWN_AFTER_TIMEOUTS;
      if (bestDown && !down) best = path;
      else if (bestDown === down && path.inFlight / path.window < best.inFlight / best.window)
        best = path;
    }
    return best;
  }

  /** Sends queued exchanges while their paths have room; stops at the first that must wait (FIFO). */
  private pump(): void {
    while (this.queue.length > 0) {
      const exchange = this.queue[0] as Exchange;
      const path = this.pickPath(exchange);
      if (!path) break;
      this.queue.shift();
      this.send(exchange, path);
    }
    this.armSweep();
  }

  private send(exchange: Exchange, path: Path): void {
    const tag = this.pending.add(exchange);
    exchange.tag = tag;
    exchange.path = path;
    exchange.sentAtMs = this.nowMs();
    exchange.attempts = (exchange.attempts ?? 0) + 1;
    if (exchange.attempts > 1) this.counters.retransmits++;
    path.inFlight++;
    path.targetMac.copy(exchange.frame, ETH_DST);
    path.socket.mac.copy(exchange.frame, 6);
    // Each send gets a new frame object: the socket may still hold the previous attempt's.
    const frame = exchange.attempts > 1 ? Buffer.from(exchange.frame) : exchange.frame;
    frame.writeUInt32BE(tag, AOE_TAG);
    exchange.frame = frame;
    this.counters.sent++;
    path.socket.send([frame]);
  }

  /** Frames may be borrowed (RawSocket `reuseReceiveBuffer`): only copies outlive this call. */
  private receive(socket: RawSocket, frames: Buffer[]): void {
    const nowMs = this.clock.nowMs();
    this.batchNowMs = nowMs;
    try {
      this.receiveBatch(socket, frames, nowMs);
    } finally {
      this.batchNowMs = undefined;
    }
    this.pump();
  }

  private receiveBatch(socket: RawSocket, frames: Buffer[], nowMs: number): void {
    for (const frame of frames) {
      const header = decodeHeader(frame);
      if (isInvalid(header) || (header.flags & AOE_FLAG_RESPONSE) === 0) continue;
      const tag = header.tag;
      const exchange = this.pending.get(tag);
      if (!exchange) {
        const listener = this.listeners.get(tag);
        if (listener) {
          const copy = Buffer.from(frame);
          listener(copy, decodeHeader(copy) as AoeHeader, socket);
        } else {
          this.counters.staleReplies++;
        }
        continue;
      }
      const path = exchange.path;
      if (
        !path ||
        frame.readUInt32BE(ETH_SRC) !== path.targetMacHigh ||
        frame.readUInt16BE(ETH_SRC + 4) !== path.targetMacLow
      ) {
        this.counters.staleReplies++;
        continue;
      }
      this.pending.remove(tag);
      path.inFlight--;
      path.replies++;
      path.consecutiveTimeouts = 0;
      if (exchange.attempts === 1) this.sampleRtt(path, nowMs - (exchange.sentAtMs ?? 0));
      this.counters.replies++;
      if (exchange.borrowsReply === true) {
        exchange.onReply(frame, header);
      } else {
        const copy = Buffer.from(frame);
        exchange.onReply(copy, decodeHeader(copy) as AoeHeader);
      }
    }
  }

  /** Jacobson/Karels (RFC 6298), sampled only from frames sent once (Karn's rule). */
  private sampleRtt(path: Path, rttMs: number): void {
    if (path.srttMs === 0) {
      path.srttMs = rttMs;
      path.rttvarMs = rttMs / 2;
    } else {
      path.rttvarMs = 0.75 * path.rttvarMs + 0.25 * Math.abs(path.srttMs - rttMs);
      path.srttMs = 0.875 * path.srttMs + 0.125 * rttMs;
    }
    path.rtoMs = Math.min(RTO_MAX_MS, Math.max(RTO_MIN_MS, path.srttMs + 4 * path.rttvarMs));
  }

  private armSweep(): void {
    if (this.pending.size === 0 && this.queue.length === 0) {
      this.sweepTimer?.cancel();
      this.sweepTimer = undefined;
      return;
    }
    if (!this.sweepTimer) this.sweepTimer = this.clock.setInterval(() => this.sweep(), SWEEP_MS);
  }

  private sweep(): void {
    const now = this.clock.nowMs();
    this.pending.forEach((exchange, tag) => {
      const path = exchange.path as Path;
      // Exponential backoff per exchange (RFC 6298 5.5): its n-th attempt waits 2^(n-1) RTOs.
      // The path's RTO itself follows only RTT samples, so one lossy burst does not slow the rest.
      const attempt = exchange.attempts ?? 1;
      const timeoutMs = Math.min(RTO_MAX_MS, path.rtoMs * 2 ** (attempt - 1));
      if (now - (exchange.sentAtMs ?? now) < timeoutMs) return;
      this.pending.remove(tag);
      path.inFlight--;
      path.consecutiveTimeouts++;
      this.counters.timeouts++;
      if (now >= exchange.deadlineMs) {
        exchange.onFail(
          new EtherplaneError(
            "TIMEOUT",
            "the AoE target did not answer in time; check that it is running and reachable",
            {
              params: { attempts: exchange.attempts },
            },
          ),
        );
      } else {
        this.queue.unshift(exchange);
      }
    });
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const exchange = this.queue[i] as Exchange;
      if (now >= exchange.deadlineMs) {
        this.queue.splice(i, 1);
        exchange.onFail(
          new EtherplaneError("TIMEOUT", "no path to the AoE target had room before the deadline"),
        );
      }
    }
    this.pump();
  }

  get outstanding(): number {
    return this.pending.size + this.queue.length;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sweepTimer?.cancel();
    this.sweepTimer = undefined;
    const error = new EtherplaneError("CLOSED", "the AoE initiator was closed");
    const all = [...this.pending.clear(), ...this.queue];
    this.queue.length = 0;
    for (const exchange of all) exchange.onFail(error);
  }
}
