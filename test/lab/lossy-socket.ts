/**
 * A fake lossy link over a real socket: drops, duplicates and reorders frames with seeded
 * probabilities, in both directions, so retransmission and idempotence are tested on purpose and
 * a failure replays from its seed. (This kernel has no netem qdisc to do it on the veth.)
 */
import type {
  FramesHandler,
  RawSocket,
  RawSocketStats,
} from "../../src/net/raw-socket/raw-socket.js";

export interface LossOptions {
  seed: number;
  dropRate: number;
  duplicateRate?: number;
  /** Frames held back and sent after the next batch. */
  reorderRate?: number;
}

export class LossySocket implements RawSocket {
  private x: number;
  readonly sentTags: number[] = [];
  dropped = 0;
  duplicated = 0;
  private held: Buffer[] = [];

  constructor(
    private readonly inner: RawSocket,
    private readonly options: LossOptions,
  ) {
    this.x = options.seed >>> 0 || 1;
  }

  private chance(rate: number): boolean {
    this.x ^= this.x << 13;
    this.x ^= this.x >>> 17;
    this.x ^= this.x << 5;
    this.x >>>= 0;
    return this.x / 2 ** 32 < rate;
  }

  private mangle(frames: readonly Buffer[]): Buffer[] {
    const out: Buffer[] = [...this.held];
    this.held = [];
    for (const frame of frames) {
      if (this.chance(this.options.dropRate)) {
        this.dropped++;
        continue;
      }
      if (this.chance(this.options.reorderRate ?? 0)) {
        this.held.push(frame);
        continue;
      }
      out.push(frame);
      if (this.chance(this.options.duplicateRate ?? 0)) {
        this.duplicated++;
        out.push(Buffer.from(frame));
      }
    }
    return out;
  }

  get ifname(): string {
    return this.inner.ifname;
  }
  get mac(): Buffer {
    return this.inner.mac;
  }
  mtu(): number {
    return this.inner.mtu();
  }
  onFrames(handler: FramesHandler): void {
    this.inner.onFrames((frames) => {
      const kept = this.mangle(frames);
      // Loss and duplication move frames around: each one is reported as addressed to this host.
      if (kept.length > 0) handler(kept, new Uint32Array(kept.length));
    });
  }
  send(frames: readonly Buffer[]): boolean {
    for (const frame of frames) if (frame.length >= 24) this.sentTags.push(frame.readUInt32BE(20));
    return this.inner.send(this.mangle(frames));
  }
  stats(): RawSocketStats {
    return this.inner.stats();
  }
  close(): void {
    this.inner.close();
  }
}
