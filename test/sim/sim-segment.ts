/**
 * An in-memory Ethernet segment: RawSockets attached to it exchange frames on a simulated clock,
 * with a per-interface MTU and seeded faults (loss, duplication, reordering, delay, partitions).
 * It behaves like a switch: a unicast frame reaches the socket with that MAC, a broadcast or
 * multicast frame every other socket; a socket gets only frames of the ethertype it is bound to.
 * Everything random comes from one SeededRandom, so a run replays from its seed.
 */
import { EtherplaneError } from "../../src/foundation/errors.js";
import type { SimClock } from "../../src/foundation/sim-clock.js";
import type { RawSocket, RawSocketStats } from "../../src/net/raw-socket/raw-socket.js";
import type { SeededRandom } from "./random.js";

/** Destination MAC, source MAC, ethertype. */
const ETHERNET_HEADER_BYTES = 14;
const ETH_TYPE = 12;
/** Frames a socket's receive buffer holds before a handler is set; more are kernelDrops. */
export const SIM_RECEIVE_QUEUE_FRAMES_MAX = 4096;
/** Frames handed to a handler at once, as the AF_PACKET adapter's default batch. */
export const SIM_RECEIVE_BATCH_FRAMES = 64;

export interface LinkFaults {
  /** Probability that a frame does not reach a receiver. */
  lossRate: number;
  /** Probability that a receiver gets a frame twice. */
  duplicateRate: number;
  /** Probability that a frame is held back behind later ones. */
  reorderRate: number;
  /** One-way delay of every frame. */
  delayMs: number;
  /** Extra delay, uniform in [0, jitterMs). */
  jitterMs: number;
}

export const NO_FAULTS: LinkFaults = {
  lossRate: 0,
  duplicateRate: 0,
  reorderRate: 0,
  delayMs: 0.05,
  jitterMs: 0,
};

export interface SegmentCounters {
  /** Frames put on the wire by send(). */
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
  reordered: number;
  /** Frames longer than the sender's or receiver's MTU allows. */
  oversize: number;
  /** Frames between two sides of a partition. */
  partitioned: number;
}

export interface AttachOptions {
  mac?: Buffer;
  mtu?: number;
  ethertype: number;
}

/** What a tap sees: every frame a socket sends, before any fault. */
export type Tap = (frame: Buffer, from: SimRawSocket) => void;

export class SimSegment {
  faults: LinkFaults;
  readonly counters: SegmentCounters = {
    sent: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    reordered: 0,
    oversize: 0,
    partitioned: 0,
  };
  private readonly sockets = new Set<SimRawSocket>();
  private groups = new Map<SimRawSocket, number>();
  private readonly taps: Tap[] = [];
  private nextMac = 1;

  constructor(
    readonly clock: SimClock,
    private readonly random: SeededRandom,
    faults: Partial<LinkFaults> = {},
    /** Distinguishes MACs of sockets on different segments of one simulation. */
    readonly id = 0,
  ) {
    this.faults = { ...NO_FAULTS, ...faults };
  }

  /** A new socket on this segment (as an interface plugged into it). */
  attach(ifname: string, options: AttachOptions): SimRawSocket {
    const mac =
      options.mac ?? Buffer.from([0x02, 0x51, 0x4d, this.id & 0xff, 0, this.nextMac++ & 0xff]);
    const socket = new SimRawSocket(this, ifname, Buffer.from(mac), options.mtu ?? 1500, options);
    this.sockets.add(socket);
    return socket;
  }

  /** Sees every frame sent on the segment, before faults (for invariant checks). */
  tap(tap: Tap): void {
    this.taps.push(tap);
  }

  /**
   * Splits the segment: sockets in different groups no longer reach each other (frames already
   * on the wire still arrive). Sockets in no group reach everyone.
   */
  partition(...groups: SimRawSocket[][]): void {
    this.groups = new Map(groups.flatMap((group, i) => group.map((s) => [s, i] as const)));
  }

  heal(): void {
    this.groups.clear();
  }

  private separated(a: SimRawSocket, b: SimRawSocket): boolean {
    const ga = this.groups.get(a);
    const gb = this.groups.get(b);
    return ga !== undefined && gb !== undefined && ga !== gb;
  }

  /** @internal Puts frames from `from` on the wire. */
  transmit(from: SimRawSocket, frames: readonly Buffer[]): void {
    for (const original of frames) {
      if (original.length > from.mtu() + ETHERNET_HEADER_BYTES) {
        this.counters.oversize++;
        from.sendErrors++;
        continue;
      }
      // The receiver's Buffer must stay valid and unchanged whatever the sender does later.
      const frame = Buffer.from(original);
      this.counters.sent++;
      from.framesSent++;
      for (const tap of this.taps) tap(frame, from);
      if (frame.length < ETHERNET_HEADER_BYTES) continue;
      const group = (frame[0] as number) & 1; // broadcast and multicast
      const ethertype = frame.readUInt16BE(ETH_TYPE);
      for (const to of this.sockets) {
        if (to === from || to.closed || to.ethertype !== ethertype) continue;
        if (!group && !frame.subarray(0, 6).equals(to.mac)) continue;
        if (this.separated(from, to)) {
          this.counters.partitioned++;
          continue;
        }
        this.schedule(frame, to);
      }
    }
  }

  private schedule(frame: Buffer, to: SimRawSocket): void {
    const f = this.faults;
    if (this.random.chance(f.lossRate)) {
      this.counters.lost++;
      return;
    }
    let delayMs = f.delayMs + (f.jitterMs > 0 ? this.random.float() * f.jitterMs : 0);
    if (this.random.chance(f.reorderRate)) {
      // Held back long enough for frames sent after it to overtake it.
      this.counters.reordered++;
      delayMs += f.delayMs + f.jitterMs + this.random.float() * (1 + 4 * f.delayMs);
      to.arriveAfter(frame, delayMs);
    } else {
      // Jitter varies the delay but, as on a real link, never the order of a receiver's frames.
      to.arriveInOrder(frame, delayMs);
    }
    if (this.random.chance(f.duplicateRate)) {
      this.counters.duplicated++;
      to.arriveAfter(frame, delayMs + this.random.float() * (1 + 2 * f.delayMs));
    }
  }

  /** @internal Removes a closed socket. */
  detach(socket: SimRawSocket): void {
    this.sockets.delete(socket);
    this.groups.delete(socket);
  }
}

export class SimRawSocket implements RawSocket {
  readonly ethertype: number;
  closed = false;
  framesSent = 0;
  framesReceived = 0;
  sendDrops = 0;
  kernelDrops = 0;
  sendErrors = 0;
  private mtuBytes: number;
  private handler: ((frames: Buffer[]) => void) | undefined;
  /** Frames arrived before a handler was set (the kernel's receive buffer). */
  private queued: Buffer[] = [];
  /** Frames arriving at the same virtual time are delivered as one batch. */
  private readonly arriving = new Map<number, Buffer[]>();
  private lastInOrderMs = 0;

  constructor(
    private readonly segment: SimSegment,
    readonly ifname: string,
    readonly mac: Buffer,
    mtu: number,
    options: AttachOptions,
  ) {
    this.mtuBytes = mtu;
    this.ethertype = options.ethertype;
  }

  mtu(): number {
    this.checkOpen("mtu");
    return this.mtuBytes;
  }

  /** Like `ip link set IF mtu N`. */
  setMtu(mtu: number): void {
    this.mtuBytes = mtu;
  }

  onFrames(handler: (frames: Buffer[]) => void): void {
    this.checkOpen("onFrames");
    if (this.handler)
      throw new EtherplaneError("INVALID_ARGUMENT", `${this.ifname}: onFrames handler already set`);
    this.handler = handler;
    if (this.queued.length > 0) {
      const frames = this.queued;
      this.queued = [];
      this.segment.clock.setTimeout(() => this.deliver(frames), 0);
    }
  }

  send(frames: readonly Buffer[]): boolean {
    if (this.closed) {
      this.sendDrops += frames.length;
      return false;
    }
    this.segment.transmit(this, frames);
    return true;
  }

  /** @internal Arrival after `delayMs`, but not before the last in-order arrival. */
  arriveInOrder(frame: Buffer, delayMs: number): void {
    const clock = this.segment.clock;
    const atMs = Math.max(clock.nowMs() + delayMs, this.lastInOrderMs);
    this.lastInOrderMs = atMs;
    this.arriveAfter(frame, atMs - clock.nowMs());
  }

  /** @internal */
  arriveAfter(frame: Buffer, delayMs: number): void {
    const atMs = this.segment.clock.nowMs() + delayMs;
    const batch = this.arriving.get(atMs);
    if (batch) {
      batch.push(frame);
      return;
    }
    this.arriving.set(atMs, [frame]);
    this.segment.clock.setTimeout(() => {
      const frames = this.arriving.get(atMs) ?? [];
      this.arriving.delete(atMs);
      this.deliver(frames);
    }, delayMs);
  }

  private deliver(frames: Buffer[]): void {
    if (this.closed) return;
    const kept: Buffer[] = [];
    for (const frame of frames) {
      if (frame.length > this.mtuBytes + ETHERNET_HEADER_BYTES) {
        this.segment.counters.oversize++;
        continue;
      }
      kept.push(frame);
    }
    if (!this.handler) {
      const room = SIM_RECEIVE_QUEUE_FRAMES_MAX - this.queued.length;
      this.queued.push(...kept.slice(0, room));
      this.kernelDrops += Math.max(0, kept.length - room);
      return;
    }
    for (let i = 0; i < kept.length; i += SIM_RECEIVE_BATCH_FRAMES) {
      if (this.closed) return;
      const batch = kept.slice(i, i + SIM_RECEIVE_BATCH_FRAMES);
      this.framesReceived += batch.length;
      this.segment.counters.delivered += batch.length;
      this.handler(batch);
    }
  }

  stats(): RawSocketStats {
    return {
      framesReceived: this.framesReceived,
      framesSent: this.framesSent,
      sendDrops: this.sendDrops,
      kernelDrops: this.kernelDrops,
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queued = [];
    this.segment.detach(this);
  }

  private checkOpen(what: string): void {
    if (this.closed)
      throw new EtherplaneError("CLOSED", `${what}: the raw socket on ${this.ifname} is closed`);
  }
}
