/**
 * The real RawSocket: a Linux AF_PACKET socket through the project's native addon
 * (`native/af_packet/`, built by `npm install` into `build/Release/af_packet.node`).
 *
 * Receiving: the addon reads up to `receiveBatchFrames` frames per recvmmsg(2) into a fresh
 * Buffer and hands the batch over in one call; frames are subarrays of it, never reused (unless
 * the socket was opened with `reuseReceiveBuffer`: then one buffer serves every batch).
 * Sending: frames queued during one event-loop turn are flushed together by one sendmmsg(2) on
 * `setImmediate`, straight from the caller's Buffers. Whatever the kernel does not take stays
 * queued until the addon reports that the socket can take more.
 * AoE fast path: once the target pushes a table (`fastPath.setTable`), the addon answers the
 * plain ATA READs and WRITEs it describes itself, before the batch reaches `onFrames`
 * (fast-path.c); writes with an export's memory of completed writes (`NativeWriteMemory`) that
 * the target's write order uses too.
 */
import { createRequire } from "node:module";
import { EtherplaneError, type ErrorCode } from "../../foundation/errors.js";
import { IFNAME_BYTES_MAX } from "../ifname.js";
import type {
  CompletedWrite,
  FramesHandler,
  NativeFastPath,
  RawSocket,
  RawSocketOptions,
  RawSocketStats,
  WriteMemory,
} from "./raw-socket.js";

/** Frames waiting for the kernel; `send` drops whole calls beyond this. */
export const SEND_QUEUE_FRAMES_MAX = 4096;
export const RECEIVE_BATCH_FRAMES_DEFAULT = 64;
/** recvmmsg(2) takes at most UIO_MAXIOV (1024) messages per call. */
export const RECEIVE_BATCH_FRAMES_MAX = 1024;
export const RECEIVE_BUFFER_BYTES_DEFAULT = 4 * 1024 * 1024;
export const RECEIVE_BUFFER_BYTES_MIN = 4096;
export const RECEIVE_BUFFER_BYTES_MAX = 1024 * 1024 * 1024;
/** SO_SNDBUF: enough for a full send chunk (256 frames) of jumbo frames. */
export const SEND_BUFFER_BYTES_DEFAULT = 4 * 1024 * 1024;
export const SEND_BUFFER_BYTES_MIN = 4096;
export const SEND_BUFFER_BYTES_MAX = 1024 * 1024 * 1024;
export const NETNS_PATH_BYTES_MAX = 190;
/** struct sock_filter (linux/filter.h) and our bound on a program's length (the addon's). */
export const FILTER_INSTRUCTION_BYTES = 8;
export const FILTER_INSTRUCTIONS_MAX = 64;
/** Destination MAC, source MAC, ethertype. */
export const ETHERNET_HEADER_BYTES = 14;

/** RawSocketStats plus the addon's own counters. */
export interface AfPacketStats extends RawSocketStats {
  /** Frames the kernel refused to send (longer than the MTU, interface down or gone). */
  sendErrors: number;
  /** Received frames longer than the receive slot (bigger than MTU + 18), dropped. */
  truncatedDrops: number;
  /** Receive errors, e.g. ENETDOWN while the interface was down. */
  receiveErrors: number;
  /** errno name of the latest send or receive error, or null. */
  lastError: string | null;
  /** Replies of the AoE fast path the kernel did not take (the initiator retransmits). */
  fastPathSendDrops: number;
}

type NativeStats = Omit<AfPacketStats, "sendDrops">;

/** The addon's functions (see the header comment of native/af_packet/). */
interface AfPacketAddon {
  open(
    ifname: string,
    ethertype: number,
    netnsPath: string | null,
    batchFrames: number,
    receiveBufferBytes: number,
    sendBufferBytes: number,
    onFrames: (buffer: Buffer, count: number, slotBytes: number) => void,
    onWritable: () => void,
    filter: Buffer | null,
    reuseReceiveBuffer: boolean,
  ): { handle: NativeHandle; lengths: Uint32Array; infos: Uint32Array };
  startReceiving(handle: NativeHandle): void;
  send(handle: NativeHandle, frames: readonly Buffer[], start: number): number;
  mtu(handle: NativeHandle): number;
  mac(handle: NativeHandle): Buffer;
  stats(handle: NativeHandle): NativeStats;
  ref(handle: NativeHandle): void;
  unref(handle: NativeHandle): void;
  close(handle: NativeHandle): void;
  setFastPath(
    handle: NativeHandle,
    table: Buffer | null,
    memories: ReadonlyArray<MemoryHandle | null>,
  ): number[];
  takeFastPathCounters(handle: NativeHandle): number[];
  newWriteMemory(maxAgeMs?: number): MemoryHandle;
  writeMemoryHas(
    memory: MemoryHandle,
    source: number,
    tag: number,
    offset: number,
    bytes: number,
  ): boolean;
  writeMemoryRemember(
    memory: MemoryHandle,
    source: number,
    tag: number,
    offset: number,
    bytes: number,
  ): void;
  writeMemorySetPending(memory: MemoryHandle, count: number): void;
}

declare const nativeHandleBrand: unique symbol;
type NativeHandle = { readonly [nativeHandleBrand]: true };
declare const memoryHandleBrand: unique symbol;
type MemoryHandle = { readonly [memoryHandleBrand]: true };

/**
 * An export's memory of completed writes kept in the addon (native/af_packet/write-memory.c),
 * which the fast path records its writes into and checks copies against; the target's write
 * order does the same through this object, so both paths share one memory.
 */
export class NativeWriteMemory implements WriteMemory {
  /** @internal */
  readonly handle: MemoryHandle;
  private pending = 0;

  /** `maxAgeMs`: the addon's WRITE_MEMORY_MAX_AGE_MS (30 s) unless given (tests). */
  constructor(
    private readonly native: AfPacketAddon = loadAddon(),
    maxAgeMs?: number,
  ) {
    this.handle = native.newWriteMemory(maxAgeMs);
  }

  has(w: CompletedWrite): boolean {
    return this.native.writeMemoryHas(this.handle, w.source, w.tag, w.offset, w.bytes);
  }

  remember(w: CompletedWrite): void {
    this.native.writeMemoryRemember(this.handle, w.source, w.tag, w.offset, w.bytes);
  }

  setPending(count: number): void {
    if (count === this.pending) return;
    this.pending = count;
    this.native.writeMemorySetPending(this.handle, count);
  }
}

let addon: AfPacketAddon | undefined;

function loadAddon(): AfPacketAddon {
  if (addon) return addon;
  // Relative to the compiled file, dist/src/net/raw-socket/af-packet.js.
  const require = createRequire(import.meta.url);
  try {
    // The addon's shape is declared by AfPacketAddon above; require() returns any.
    addon = require("../../../../build/Release/af_packet.node") as AfPacketAddon;
  } catch (cause) {
    throw new EtherplaneError(
      "UNAVAILABLE",
      `the AF_PACKET addon is not built (run npm install): ${(cause as Error).message}`,
      { cause },
    );
  }
  return addon;
}

/** Maps the addon's errno codes to error codes: what the caller can act on. */
function errorCodeFor(errnoName: unknown): ErrorCode {
  switch (errnoName) {
    case "ENODEV":
    case "ENOENT":
      return "NOT_FOUND";
    case "EPERM":
    case "EACCES":
      return "UNAVAILABLE";
    case "EINVAL":
      return "INVALID_ARGUMENT";
    default:
      return "IO_ERROR";
  }
}

function invalid(key: string, value: unknown, bound: string): EtherplaneError {
  return new EtherplaneError("INVALID_ARGUMENT", `${key} must be ${bound} (got ${String(value)})`, {
    params: { [key]: value },
  });
}

function checkInteger(key: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalid(key, value, `an integer in [${min}, ${max}]`);
  }
  return value;
}

/** Opens a raw Ethernet socket on `options.ifname` for one ethertype. Needs CAP_NET_RAW. */
export function openAfPacketSocket(options: RawSocketOptions): AfPacketSocket {
  const { ifname, netnsPath } = options;
  if (
    typeof ifname !== "string" ||
    ifname.length === 0 ||
    Buffer.byteLength(ifname) > IFNAME_BYTES_MAX
  ) {
    throw invalid("ifname", ifname, `an interface name of 1 to ${IFNAME_BYTES_MAX} bytes`);
  }
  const ethertype = checkInteger("ethertype", options.ethertype, 0, 0xffff);
  const batchFrames = checkInteger(
    "receiveBatchFrames",
    options.receiveBatchFrames ?? RECEIVE_BATCH_FRAMES_DEFAULT,
    1,
    RECEIVE_BATCH_FRAMES_MAX,
  );
  const receiveBufferBytes = checkInteger(
    "receiveBufferBytes",
    options.receiveBufferBytes ?? RECEIVE_BUFFER_BYTES_DEFAULT,
    RECEIVE_BUFFER_BYTES_MIN,
    RECEIVE_BUFFER_BYTES_MAX,
  );
  const sendBufferBytes = checkInteger(
    "sendBufferBytes",
    options.sendBufferBytes ?? SEND_BUFFER_BYTES_DEFAULT,
    SEND_BUFFER_BYTES_MIN,
    SEND_BUFFER_BYTES_MAX,
  );
  if (
    netnsPath !== undefined &&
    (typeof netnsPath !== "string" ||
      netnsPath.length === 0 ||
      Buffer.byteLength(netnsPath) > NETNS_PATH_BYTES_MAX)
  ) {
    throw invalid("netnsPath", netnsPath, `a path of 1 to ${NETNS_PATH_BYTES_MAX} bytes`);
  }
  const filter = options.receiveFilter;
  if (
    filter !== undefined &&
    (!Buffer.isBuffer(filter) ||
      filter.length === 0 ||
      filter.length % FILTER_INSTRUCTION_BYTES !== 0 ||
      filter.length > FILTER_INSTRUCTIONS_MAX * FILTER_INSTRUCTION_BYTES)
  ) {
    throw invalid(
      "receiveFilter",
      filter,
      `a Buffer of 1 to ${FILTER_INSTRUCTIONS_MAX} BPF instructions (${FILTER_INSTRUCTION_BYTES} bytes each)`,
    );
  }
  const native = loadAddon();
  // The addon calls back only after startReceiving() or a short send(), both after construction.
  let socket: AfPacketSocket | undefined;
  try {
    const { handle, lengths, infos } = native.open(
      ifname,
      ethertype,
      netnsPath ?? null,
      batchFrames,
      receiveBufferBytes,
      sendBufferBytes,
      (buffer, count, slotBytes) => socket?.deliver(buffer, count, slotBytes),
      () => socket?.flush(),
      filter ?? null,
      options.reuseReceiveBuffer === true,
    );
    socket = new AfPacketSocket(native, ifname, handle, lengths, infos);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new EtherplaneError(errorCodeFor(code), (cause as Error).message, {
      cause,
      params: { ifname, ethertype, netnsPath, errno: code },
    });
  }
  return socket;
}

export class AfPacketSocket implements RawSocket {
  readonly mac: Buffer;
  private closed = false;
  private handler: FramesHandler | undefined;
  /** The infos of the frames delivered when the addon dropped some of a batch (oversize). */
  private readonly keptInfos: Uint32Array;
  /** Frames not yet taken by the kernel, oldest first; at most SEND_QUEUE_FRAMES_MAX. */
  private queue: Buffer[] = [];
  private flushScheduled: NodeJS.Immediate | undefined;
  /** A send stopped early: the addon calls `flush` when the kernel can take more. */
  private waitingForKernel = false;
  private sendDrops = 0;
  readonly fastPath: NativeFastPath = {
    setTable: (table, memories) =>
      this.native.setFastPath(
        this.handle,
        table,
        memories.map((m) => (m instanceof NativeWriteMemory ? m.handle : null)),
      ),
    takeCounters: () => this.native.takeFastPathCounters(this.handle),
    newWriteMemory: () => new NativeWriteMemory(this.native),
  };

  /** Use `openAfPacketSocket`. */
  constructor(
    private readonly native: AfPacketAddon,
    readonly ifname: string,
    private readonly handle: NativeHandle,
    /** Shared with the addon: frame lengths of the batch being delivered. */
    private readonly lengths: Uint32Array,
    /** Shared with the addon: packet type and VLAN tag of each frame (raw-socket.ts frameInfo). */
    private readonly infos: Uint32Array,
  ) {
    this.mac = native.mac(handle);
    this.keptInfos = new Uint32Array(infos.length);
  }

  mtu(): number {
    this.checkOpen("mtu");
    return this.native.mtu(this.handle);
  }

  onFrames(handler: FramesHandler): void {
    this.checkOpen("onFrames");
    if (this.handler) {
      throw new EtherplaneError("INVALID_ARGUMENT", `${this.ifname}: onFrames handler already set`);
    }
    this.handler = handler;
    // Polling starts only now: until then frames wait in the kernel's receive buffer.
    this.native.startReceiving(this.handle);
  }

  /** After close(), frames are dropped (counted in sendDrops) rather than thrown on, so that
   * late replies during shutdown are harmless. */
  send(frames: readonly Buffer[]): boolean {
    if (this.closed || this.queue.length + frames.length > SEND_QUEUE_FRAMES_MAX) {
      this.sendDrops += frames.length;
      return false;
    }
    if (frames.length === 0) return true;
    for (const frame of frames) this.queue.push(frame);
    if (!this.waitingForKernel && this.flushScheduled === undefined) {
      this.flushScheduled = setImmediate(() => {
        this.flushScheduled = undefined;
        this.flush();
      });
    }
    return true;
  }

  /** @internal Sends what the kernel takes; the addon calls this again when it can take more. */
  flush(): void {
    this.waitingForKernel = false;
    if (this.closed || this.queue.length === 0) return;
    const taken = this.native.send(this.handle, this.queue, 0);
    if (taken === this.queue.length) {
      this.queue = [];
    } else {
      this.queue = this.queue.slice(taken);
      this.waitingForKernel = true;
    }
  }

  /** @internal Turns one receive batch into frames (subarrays, no copy) for the handler. */
  deliver(buffer: Buffer, count: number, slotBytes: number): void {
    const frames: Buffer[] = [];
    let infos: Uint32Array = this.infos;
    for (let i = 0; i < count; i++) {
      const length = this.lengths[i] ?? 0;
      if (length === 0) {
        // Dropped by the addon (longer than its slot): the infos of the kept frames move down.
        if (infos === this.infos) {
          this.keptInfos.set(this.infos.subarray(0, frames.length));
          infos = this.keptInfos;
        }
        continue;
      }
      if (infos !== this.infos) infos[frames.length] = this.infos[i] ?? 0;
      const start = i * slotBytes;
      frames.push(buffer.subarray(start, start + length));
    }
    if (frames.length > 0 && this.handler) this.handler(frames, infos);
  }

  /** Counters; still readable after close(). */
  stats(): AfPacketStats {
    return { ...this.native.stats(this.handle), sendDrops: this.sendDrops };
  }

  /** Lets the process exit while this socket is open (like `net.Socket.unref`). */
  unref(): void {
    this.native.unref(this.handle);
  }

  ref(): void {
    this.native.ref(this.handle);
  }

  /** Closes the socket; frames still queued are dropped (counted in sendDrops). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.flushScheduled !== undefined) clearImmediate(this.flushScheduled);
    this.flushScheduled = undefined;
    this.sendDrops += this.queue.length;
    this.queue = [];
    this.native.close(this.handle);
  }

  private checkOpen(what: string): void {
    if (this.closed) {
      throw new EtherplaneError("CLOSED", `${what}: the raw socket on ${this.ifname} is closed`);
    }
  }
}
