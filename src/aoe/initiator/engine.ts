/**
 * The initiator's frame engine: sends request frames over paths (an interface and a target MAC),
 * matches replies by tag, keeps each path's window of outstanding frames, estimates RTT and
 * retransmits on timeout with a fresh tag (the Linux initiator does the same: resend() takes
 * newtag(), drivers/block/aoe/aoecmd.c; so a target must be idempotent, and a late reply to an old tag is simply ignored).
 */
import { realClock, type Clock, type Timer } from "../../foundation/clock.js";
import { EtherplaneError } from "../../foundation/errors.js";
import type { RawSocket } from "../../net/raw-socket/raw-socket.js";
import {
  AOE_FLAG_RESPONSE,
  AOE_TAG,
  ETH_DST,
  decodeHeader,
  isInvalid,
  type AoeHeader,
} from "../codec/index.js";

/** Tags with the top bit set belong to userland tools; the kernel's have it clear. */
const TAG_USERLAND = 0x80000000;
const RTO_INITIAL_MS = 100;
const RTO_MIN_MS = 20;
const RTO_MAX_MS = 2000;
const SWEEP_MS = 5;
/** A path with this many timeouts in a row stops taking new frames until it answers again. */
const PATH_DOWN_AFTER_TIMEOUTS = 8;

export interface Path {
  readonly socket: RawSocket;
  readonly targetMac: Buffer;
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
  /** Called with the reply frame (already matched by tag and source MAC). */
  onReply(frame: Buffer, header: AoeHeader): void;
  onFail(error: EtherplaneError): void;
  // Engine bookkeeping.
  tag?: number;
  path?: Path;
  sentAtMs?: number;
  attempts?: number;
}

/** Receives replies to a broadcast, with the socket each came in on. */
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
  private readonly pending = new Map<number, Exchange>();
  private readonly queue: Exchange[] = [];
  private readonly listeners = new Map<number, Listener>();
  private nextTag: number;
  private sweepTimer: Timer | undefined;
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
    this.nextTag = (options.firstTag ?? Math.floor(Math.random() * 0x7fffffff)) & 0x7fffffff;
    for (const socket of sockets) socket.onFrames((frames) => this.receive(socket, frames));
  }

  allocateTag(): number {
    this.nextTag = (this.nextTag + 1) & 0x7fffffff;
    return (TAG_USERLAND | this.nextTag) >>> 0;
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
    this.queue.push(exchange);
    this.pump();
  }

  private pickPath(exchange: Exchange): Path | undefined {
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
    const tag = this.allocateTag();
    exchange.tag = tag;
    exchange.path = path;
    exchange.sentAtMs = this.clock.nowMs();
    exchange.attempts = (exchange.attempts ?? 0) + 1;
    if (exchange.attempts > 1) this.counters.retransmits++;
    path.inFlight++;
    this.pending.set(tag, exchange);
    path.targetMac.copy(exchange.frame, ETH_DST);
    path.socket.mac.copy(exchange.frame, 6);
    // Each send gets a new frame object: the socket may still hold the previous attempt's.
    const frame = exchange.attempts > 1 ? Buffer.from(exchange.frame) : exchange.frame;
    frame.writeUInt32BE(tag, AOE_TAG);
    exchange.frame = frame;
    this.counters.sent++;
    path.socket.send([frame]);
  }

  private receive(socket: RawSocket, frames: Buffer[]): void {
    for (const frame of frames) {
      const header = decodeHeader(frame);
      if (isInvalid(header) || (header.flags & AOE_FLAG_RESPONSE) === 0) continue;
      const listener = this.listeners.get(header.tag);
      if (listener) {
        listener(frame, header, socket);
        continue;
      }
      const exchange = this.pending.get(header.tag);
      if (!exchange || !exchange.path || !header.isFrom(exchange.path.targetMac)) {
        this.counters.staleReplies++;
        continue;
      }
      this.pending.delete(header.tag);
      const path = exchange.path;
      path.inFlight--;
      path.replies++;
      path.consecutiveTimeouts = 0;
      if (exchange.attempts === 1)
        this.sampleRtt(path, this.clock.nowMs() - (exchange.sentAtMs ?? 0));
      this.counters.replies++;
      exchange.onReply(frame, header);
    }
    this.pump();
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
    for (const [tag, exchange] of this.pending) {
      const path = exchange.path as Path;
      // Exponential backoff per exchange (RFC 6298 5.5): its n-th attempt waits 2^(n-1) RTOs.
      // The path's RTO itself follows only RTT samples, so one lossy burst does not slow the rest.
      const attempt = exchange.attempts ?? 1;
      const timeoutMs = Math.min(RTO_MAX_MS, path.rtoMs * 2 ** (attempt - 1));
      if (now - (exchange.sentAtMs ?? now) < timeoutMs) continue;
      this.pending.delete(tag);
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
    }
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
    for (const exchange of [...this.pending.values(), ...this.queue]) exchange.onFail(error);
    this.pending.clear();
    this.queue.length = 0;
  }
}
