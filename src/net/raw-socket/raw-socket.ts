/**
 * The raw Ethernet port the AoE target and initiator run on. The real implementation is the
 * AF_PACKET addon (`af-packet.ts`); tests and simulators may provide others.
 *
 * Received frames arrive in batches. Each frame is a Buffer that stays valid after the callback
 * (the adapter never reuses memory that it has handed out), starting at the Ethernet destination
 * MAC; it may be shorter than the 60-byte Ethernet minimum (veth/virtio deliver unpadded frames).
 */
export interface RawSocket {
  /** Interface name, e.g. `veth0`. */
  readonly ifname: string;
  /** The interface's 6-byte MAC address. */
  readonly mac: Buffer;
  /** The interface's MTU, read from the kernel on each call (it can change while running). */
  mtu(): number;
  /** Registers the receive handler (one per socket). Frames are delivered in batches. */
  onFrames(handler: (frames: Buffer[]) => void): void;
  /**
   * Queues complete Ethernet frames (header included) for sending. Frames queued in the same
   * event-loop turn go out together in one batched system call. The caller must not modify
   * a frame after queueing it. Returns false if the bounded send queue was full and the frames
   * were dropped (counted in `stats().sendDrops`).
   */
  send(frames: readonly Buffer[]): boolean;
  stats(): RawSocketStats;
  close(): void;
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
}
