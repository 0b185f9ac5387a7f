/**
 * An in-memory Ethernet segment: RawSockets attached to it exchange frames on a simulated clock,
 * with a per-interface MTU and seeded faults (loss, duplication, reordering, delay, partitions).
 * It behaves like a switch: a unicast frame reaches the socket with that MAC, a broadcast or
 * multicast frame every other socket; a socket gets only frames of the ethertype it is bound to.
 * With `flood` set it is a switch that floods unicast (or a hub): every socket also gets frames
 * for other stations, marked PacketType.otherHost as the kernel does. An 802.1Q tag is stripped
 * on arrival and reported in the frame's info, as PACKET_AUXDATA does.
 * Everything random comes from one SeededRandom, so a run replays from its seed.
 */
import { EtherplaneError } from "../../src/foundation/errors.js";
import type { SimClock } from "../../src/foundation/sim-clock.js";
import {
  frameInfo,
  PacketType,
  type FramesHandler,
  type RawSocket,
  type RawSocketStats,
} from "../../src/net/raw-socket/raw-socket.js";
import type { SeededRandom } from "./random.js";

/** Destination MAC, source MAC, ethertype. */
const ETHERNET_HEADER_BYTES = 14;
const ETH_TYPE = 12;
const ETHERTYPE_VLAN = 0x8100;
const VLAN_TAG_BYTES = 4;
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
  /**
   * As RawSocketOptions.reuseReceiveBuffer: the handler gets frames valid during its call only.
   * Each batch is a copy that is overwritten (0xee) when the handler returns, so that a consumer
   * that keeps a frame past the call sees garbage here rather than a rare race on a real link.
   */
  reuseReceiveBuffer?: boolean;
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
  /** Unicast frames reach every socket (those for other stations as PacketType.otherHost). */
  flood = false;

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
      let ethertype = frame.readUInt16BE(ETH_TYPE);
      let tci: number | undefined;
      let arriving = frame;
      if (ethertype === ETHERTYPE_VLAN && frame.length >= ETHERNET_HEADER_BYTES + VLAN_TAG_BYTES) {
        // The receiving kernel strips the tag (skb_vlan_untag) and reports it in auxdata.
        tci = frame.readUInt16BE(ETH_TYPE + 2);
        ethertype = frame.readUInt16BE(ETH_TYPE + VLAN_TAG_BYTES);
        arriving = Buffer.concat([
          frame.subarray(0, ETH_TYPE),
          frame.subarray(ETH_TYPE + VLAN_TAG_BYTES),
        ]);
      }
      const broadcast = group && frame.subarray(0, 6).every((b) => b === 0xff);
      for (const to of this.sockets) {
        if (to === from || to.closed || to.ethertype !== ethertype) continue;
        const mine = !group && frame.subarray(0, 6).equals(to.mac);
        if (!group && !mine && !this.flood) continue;
        if (this.separated(from, to)) {
          this.counters.partitioned++;
          continue;
        }
        const type = broadcast
          ? PacketType.broadcast
          : group
            ? PacketType.multicast
            : mine
              ? PacketType.host
              : PacketType.otherHost;
        this.schedule(arriving, to, frameInfo(type, tci));
      }
    }
  }

  private schedule(frame: Buffer, to: SimRawSocket, info: number): void {
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
      to.arriveAfter(frame, info, delayMs);
    } else {
      // Jitter varies the delay but, as on a real link, never the order of a receiver's frames.
      to.arriveInOrder(frame, info, delayMs);
    }
    if (this.random.chance(f.duplicateRate)) {
      this.counters.duplicated++;
      to.arriveAfter(frame, info, delayMs + this.random.float() * (1 + 2 * f.delayMs));
    }
  }

  /** @internal Removes a closed socket. */
  detach(socket: SimRawSocket): void {
    this.sockets.delete(socket);
    this.groups.delete(socket);
  }
}

/** Frames with their infos (raw-socket.ts frameInfo), index by index. */
interface Arrival {
  frames: Buffer[];
  infos: number[];
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
  private handler: FramesHandler | undefined;
  /** Frames arrived before a handler was set (the kernel's receive buffer), with their infos. */
  private queued: Arrival = { frames: [], infos: [] };
  /** Frames arriving at the same virtual time are delivered as one batch. */
  private readonly arriving = new Map<number, Arrival>();
  private lastInOrderMs = 0;
  private readonly reuseReceiveBuffer: boolean;

  constructor(
    private readonly segment: SimSegment,
    readonly ifname: string,
    readonly mac: Buffer,
    mtu: number,
    options: AttachOptions,
  ) {
    this.mtuBytes = mtu;
    this.ethertype = options.ethertype;
    this.reuseReceiveBuffer = options.reuseReceiveBuffer === true;
  }

  mtu(): number {
    this.checkOpen("mtu");
    return this.mtuBytes;
  }

  /** Like `ip link set IF mtu N`. */
  setMtu(mtu: number): void {
    this.mtuBytes = mtu;
  }

  onFrames(handler: FramesHandler): void {
    this.checkOpen("onFrames");
    if (this.handler)
      throw new EtherplaneError("INVALID_ARGUMENT", `${this.ifname}: onFrames handler already set`);
    this.handler = handler;
    if (this.queued.frames.length > 0) {
      const queued = this.queued;
      this.queued = { frames: [], infos: [] };
      this.segment.clock.setTimeout(() => this.deliver(queued), 0);
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
  arriveInOrder(frame: Buffer, info: number, delayMs: number): void {
    const clock = this.segment.clock;
    const atMs = Math.max(clock.nowMs() + delayMs, this.lastInOrderMs);
    this.lastInOrderMs = atMs;
    this.arriveAfter(frame, info, atMs - clock.nowMs());
  }

  /** @internal */
  arriveAfter(frame: Buffer, info: number, delayMs: number): void {
    const atMs = this.segment.clock.nowMs() + delayMs;
    const batch = this.arriving.get(atMs);
    if (batch) {
      batch.frames.push(frame);
      batch.infos.push(info);
      return;
    }
    this.arriving.set(atMs, { frames: [frame], infos: [info] });
    this.segment.clock.setTimeout(() => {
      const arrived = this.arriving.get(atMs) ?? { frames: [], infos: [] };
      this.arriving.delete(atMs);
      this.deliver(arrived);
    }, delayMs);
  }

  private deliver(arrived: Arrival): void {
    if (this.closed) return;
    const kept: Arrival = { frames: [], infos: [] };
    arrived.frames.forEach((frame, i) => {
      if (frame.length > this.mtuBytes + ETHERNET_HEADER_BYTES) {
        this.segment.counters.oversize++;
        return;
      }
      kept.frames.push(frame);
      kept.infos.push(arrived.infos[i] ?? 0);
    });
    if (!this.handler) {
      const room = SIM_RECEIVE_QUEUE_FRAMES_MAX - this.queued.frames.length;
      this.queued.frames.push(...kept.frames.slice(0, room));
      this.queued.infos.push(...kept.infos.slice(0, room));
      this.kernelDrops += Math.max(0, kept.frames.length - room);
      return;
    }
    for (let i = 0; i < kept.frames.length; i += SIM_RECEIVE_BATCH_FRAMES) {
      if (this.closed) return;
      const batch = kept.frames.slice(i, i + SIM_RECEIVE_BATCH_FRAMES);
      this.framesReceived += batch.length;
      this.segment.counters.delivered += batch.length;
      const infos = kept.infos.slice(i, i + SIM_RECEIVE_BATCH_FRAMES);
      if (!this.reuseReceiveBuffer) {
        this.handler(batch, infos);
        continue;
      }
      const borrowed = batch.map((frame) => Buffer.from(frame));
      this.handler(borrowed, infos);
      for (const frame of borrowed) frame.fill(0xee);
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
    this.queued = { frames: [], infos: [] };
    this.segment.detach(this);
  }

  private checkOpen(what: string): void {
    if (this.closed)
      throw new EtherplaneError("CLOSED", `${what}: the raw socket on ${this.ifname} is closed`);
  }
}
