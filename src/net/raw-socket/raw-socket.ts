/**
 * The raw Ethernet port the AoE target and initiator run on. The real implementation is the
 * AF_PACKET addon (`af-packet.ts`); tests and simulators may provide others.
 *
 * Received frames arrive in batches. Each frame is a Buffer that stays valid after the callback
 * (the adapter never reuses memory that it has handed out), starting at the Ethernet destination
 * MAC; it may be shorter than the 60-byte Ethernet minimum (veth/virtio deliver unpadded frames).
 * A socket opened with `reuseReceiveBuffer` is the exception: its frames are valid during the
 * callback only.
 */
export interface RawSocket {
  /** Interface name, e.g. `veth0`. */
  readonly ifname: string;
  /** The interface's 6-byte MAC address. */
  readonly mac: Buffer;
  /** The interface's MTU, read from the kernel on each call (it can change while running). */
  mtu(): number;
  /**
   * Registers the receive handler (one per socket). Frames are delivered in batches; `infos[i]`
   * tells what the kernel knew about `frames[i]` (frameInfo below), valid during the call only.
   */
  onFrames(handler: FramesHandler): void;
  /**
   * Queues complete Ethernet frames (header included) for sending. Frames queued in the same
   * event-loop turn go out together in one batched system call. The caller must not modify
   * a frame after queueing it. Returns false if the bounded send queue was full and the frames
   * were dropped (counted in `stats().sendDrops`).
   */
  send(frames: readonly Buffer[]): boolean;
  stats(): RawSocketStats;
  close(): void;
  /** Present when the adapter can answer some AoE frames itself (the af_packet addon). */
  readonly fastPath?: NativeFastPath;
}

/**
 * The AoE target's native fast path (native/af_packet/fast-path.c): the frames the pushed table
 * says it may answer never reach `onFrames`. Tables are encoded by src/aoe/target/fast-path-table.ts.
 */
export interface NativeFastPath {
  /**
   * Replaces the table (null: answer nothing natively) and returns the counters of the table it
   * replaced: `FAST_PATH_COUNTERS_PER_EXPORT` numbers per export, in that table's order.
   * `memories[i]` is the write memory of the table's export i (in table order), made by
   * `newWriteMemory` of this adapter; required for an export the table marks writable.
   */
  setTable(table: Buffer | null, memories: ReadonlyArray<WriteMemory | undefined>): number[];
  /**
   * A memory of completed writes that both this adapter's fast path and the target's write
   * order use (src/aoe/target/write-order.ts); one per export, good on every socket of this
   * adapter.
   */
  newWriteMemory(): WriteMemory;
  /** The current table's counters, in the same form; they restart from 0. */
  takeCounters(): number[];
}

/** A completed write as the memory knows it: AoE tag, source MAC as a 48-bit number, bytes. */
export interface CompletedWrite {
  tag: number;
  source: number;
  offset: number;
  bytes: number;
}

/**
 * An AoE export's memory of its completed writes, kept by the adapter and shared with the
 * target (src/aoe/target/write-order.ts describes the rules; its WriteMemory has this shape).
 */
export interface WriteMemory {
  has(write: CompletedWrite): boolean;
  remember(write: CompletedWrite): void;
  setPending(count: number): void;
}

export type FramesHandler = (frames: Buffer[], infos: FrameInfos) => void;

/** Per-frame facts from the kernel, one number a frame (an array reused between batches). */
export type FrameInfos = ArrayLike<number>;

/**
 * The packet type a packet socket reports for a frame (sll_pkttype, packet(7)): addressed to this
 * host, to broadcast, to a multicast group, or to another station (a switch that floods unicast,
 * or promiscuous mode, hands those to every packet socket).
 */
export const PacketType = {
  host: 0,
  broadcast: 1,
  multicast: 2,
  otherHost: 3,
} as const;

/** Bit 8: the frame carried an 802.1Q tag that the kernel stripped (PACKET_AUXDATA). */
const FRAME_INFO_VLAN = 0x100;
/** Bit 9: the kernel passed the frame to an interface stacked on ours (a VLAN interface). */
export const FRAME_INFO_UPPER_INTERFACE = 0x200;
const FRAME_INFO_TCI_SHIFT = 16;
const VLAN_ID_MASK = 0x0fff;

/**
 * Packs a frame's info as the native addon does (native/af_packet/af-packet.h): bits 0-7 the
 * packet type, bit 8 set when an 802.1Q tag was stripped, bit 9 (FRAME_INFO_UPPER_INTERFACE)
 * when the frame went to an interface stacked on ours, bits 16-31 the tag's TCI.
 */
export function frameInfo(packetType: number, vlanTci?: number): number {
  const tagged = vlanTci === undefined ? 0 : FRAME_INFO_VLAN | ((vlanTci & 0xffff) << 16);
  return (packetType & 0xff) | tagged;
}

export function packetTypeOf(info: number): number {
  return info & 0xff;
}

/** Whether the kernel handed the frame to an interface stacked on ours (e.g. eth0.100). */
export function viaUpperInterface(info: number): boolean {
  return (info & FRAME_INFO_UPPER_INTERFACE) !== 0;
}

/** The VLAN id (0-4095) of the tag the frame carried, or undefined when it had none. */
export function vlanIdOf(info: number): number | undefined {
  return (info & FRAME_INFO_VLAN) === 0
    ? undefined
    : (info >>> FRAME_INFO_TCI_SHIFT) & VLAN_ID_MASK;
}

export interface RawSocketStats {
  framesReceived: number;
  framesSent: number;
  /** Frames dropped because the send queue was full. */
  sendDrops: number;
  /** Frames the kernel dropped because our receive buffer was full (PACKET_STATISTICS). */
  kernelDrops: number;
}

export interface RawSocketOptions {
  ifname: string;
  /** Ethertype to bind to (AoE's: AOE_ETHERTYPE in src/aoe/codec/header.ts). */
  ethertype: number;
  /**
   * Path of a network namespace (e.g. `/var/run/netns/NAME`) to create the socket in; the
   * process stays in its own namespace. Used by tests to hold sockets on several test hosts.
   */
  netnsPath?: string;
  /** Maximum frames taken per receive system call. */
  receiveBatchFrames?: number;
  /** Kernel receive buffer size (SO_RCVBUF). */
  receiveBufferBytes?: number;
  /** Kernel send buffer size (SO_SNDBUF): how many frames the kernel holds before send waits. */
  sendBufferBytes?: number;
  /**
   * A classic BPF program (struct sock_filter entries, 8 bytes each, host byte order) that the
   * kernel runs on every frame before queueing it: frames it refuses never reach this socket.
   * Attached before the socket is bound. E.g. a target worker's shard (aoe/target/shard-filter.ts).
   */
  receiveFilter?: Buffer;
  /**
   * The handler keeps no frame (nor any subarray of one) past its call: the adapter then receives
   * every batch into the same memory instead of a fresh buffer (no allocation, page faults or
   * garbage collection per batch). For the initiator, which copies replies' data out at once
   * (aoe/initiator/engine.ts); the target keeps requests across disk I/O and must not set it.
   */
  reuseReceiveBuffer?: boolean;
}
