/**
 * `node dist/bench/initiator-js.js`: the JavaScript cost per frame of our userspace initiator
 * alone, with no kernel in the way. AoeBlockDevice reads through the real InitiatorEngine from a
 * FAKE socket that answers every READ at the next event-loop turn, in one batch, from one reused
 * buffer (as a socket opened with `reuseReceiveBuffer` hands frames over). No root, no network.
 *
 * On a loaded machine the kernel's share of `bench:initiator` (system time, wake-ups, another
 * tenant's cache) moves by more than a change to the engine does; this isolates the part the
 * engine controls, so two builds can be compared in one run. It is not a link's frame rate.
 *
 * Environment: BENCH_FRAMES (per run, default 400000), BENCH_SECTORS (per frame: 2 is MTU
 * 1500, 17 is MTU 9000; default 2,17), BENCH_WINDOW (frames in flight, default 64).
 */
import * as os from "node:os";
import { AoeBlockDevice } from "../src/aoe/initiator/aoe-block-device.js";
import { InitiatorEngine } from "../src/aoe/initiator/engine.js";
import {
  AOE_FLAG_RESPONSE,
  AOE_VER_FLAGS,
  AOE_VERSION,
  ATA_CMD_STATUS,
  ATA_DATA,
  ATA_SECTOR_COUNT,
  AtaStatus,
  SECTOR_BYTES,
} from "../src/aoe/codec/index.js";
import type { FramesHandler, RawSocket, RawSocketStats } from "../src/net/raw-socket/raw-socket.js";

const env = (name: string, fallback: string) => process.env[name] ?? fallback;
const framesPerRun = Number(env("BENCH_FRAMES", "400000"));
const sectorsList = env("BENCH_SECTORS", "2,17").split(",").map(Number);
const window = Number(env("BENCH_WINDOW", "64"));
const OUR_MAC = Buffer.from([0x02, 0, 0, 0, 0, 0x01]);
const TARGET_MAC = Buffer.from([0x02, 0, 0, 0, 0, 0x02]);
const BATCH_FRAMES_MAX = 1024;
/** 1 GiB: nothing is stored, the LBAs only vary as a real run's would. */
const DEVICE_SECTORS = 1 << 21;

/** A FAKE RawSocket whose far end answers every ATA READ at once with zeroed sectors. */
class FakeResponderSocket implements RawSocket {
  readonly ifname = "fake0";
  readonly mac = OUR_MAC;
  private handler: FramesHandler | undefined;
  private requests: Buffer[] = [];
  private scheduled = false;
  private readonly batch: Buffer;
  private readonly slotBytes: number;
  private readonly infos = new Uint32Array(BATCH_FRAMES_MAX);
  sent = 0;

  constructor(sectorsMax: number) {
    this.slotBytes = ATA_DATA + sectorsMax * SECTOR_BYTES;
    this.batch = Buffer.alloc(this.slotBytes * BATCH_FRAMES_MAX);
  }

  mtu(): number {
    return 9000;
  }

  onFrames(handler: FramesHandler): void {
    this.handler = handler;
  }

  send(frames: readonly Buffer[]): boolean {
    for (const frame of frames) this.requests.push(frame);
    this.sent += frames.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.answer());
    }
    return true;
  }

  private answer(): void {
    this.scheduled = false;
    const requests = this.requests.splice(0, BATCH_FRAMES_MAX);
    const replies = requests.map((request, i) => {
      const start = i * this.slotBytes;
      const bytes = ATA_DATA + (request[ATA_SECTOR_COUNT] as number) * SECTOR_BYTES;
      const reply = this.batch.subarray(start, start + bytes);
      request.copy(reply, 0, 0, ATA_DATA);
      OUR_MAC.copy(reply, 0);
      TARGET_MAC.copy(reply, 6);
      reply[AOE_VER_FLAGS] = (AOE_VERSION << 4) | AOE_FLAG_RESPONSE;
      reply[ATA_CMD_STATUS] = AtaStatus.drdy;
      return reply;
    });
    if (this.requests.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.answer());
    }
    this.handler?.(replies, this.infos);
  }

  stats(): RawSocketStats {
    return { framesReceived: 0, framesSent: this.sent, sendDrops: 0, kernelDrops: 0 };
  }

  close(): void {}
}

async function run(sectors: number): Promise<void> {
  const socket = new FakeResponderSocket(sectors);
  const engine = new InitiatorEngine([socket], { firstTag: 1 });
  const device = new AoeBlockDevice(engine, {
    shelf: 1,
    slot: 0,
    state: "up",
    identify: {
      sectors: DEVICE_SECTORS,
      lba48: true,
      serial: "fake",
      firmware: "0",
      model: "fake",
    },
    paths: [
      {
        ifname: socket.ifname,
        mac: "02:00:00:00:00:02",
        bufferCount: window,
        sectorsMax: sectors,
        firmware: 0,
        configString: "",
      },
    ],
  });
  const span = Math.floor(DEVICE_SECTORS / sectors);
  let frames = 0;
  let next = 0;
  const lane = async () => {
    const buffer = Buffer.alloc(sectors * SECTOR_BYTES);
    while (frames < framesPerRun) {
      await device.readSectors(buffer, (next++ % span) * sectors);
      frames++;
    }
  };
  const lanes = () => Promise.all(Array.from({ length: window }, lane));
  await lanes(); // warm-up: the optimising compiler's work is not the engine's
  frames = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await lanes();
  const cpu = process.cpuUsage(cpu0);
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(
    `${sectors} sectors/frame: ${((cpu.user + cpu.system) / frames).toFixed(2)} µs CPU/frame ` +
      `(user ${(cpu.user / frames).toFixed(2)}), ${(frames / seconds).toFixed(0)} frames/s\n`,
  );
  engine.close();
}

async function main(): Promise<void> {
  process.stdout.write(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}\n`,
  );
  for (const sectors of sectorsList) await run(sectors);
}

main().catch((error: unknown) => {
  process.stderr.write(`initiator-js: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 2;
});
