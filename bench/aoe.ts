/**
 * `npm run bench:aoe`: our AoE target against Debian's vblade, same link, same initiator (ours),
 * same backing file. Prints MB/s for sequential read/write at the maximum frame payload, IOPS for
 * 4 KiB random read/write with as many requests in flight as each target advertises, at MTU 1500
 * and 9000, on tmpfs and on disk, and the ratio ours/vblade; then the target's memory with 64
 * exports and full queues.
 *
 * On disk the page cache is dropped before each read test, so reads come from the disk; the
 * durable rows compare our `durable` exports (group-committed fdatasync) with vblade -s (O_SYNC).
 * Each cell also reports the target's CPU time per MB moved (both processes share the 2 cores, so
 * a target that costs less CPU leaves more to the initiator).
 *
 * Environment: BENCH_SECONDS (random-I/O duration per cell, default 3), BENCH_SEQ_MIB (default 128),
 * BENCH_QUICK=1 (tmpfs and MTU 1500 only).
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  createAoeLink,
  makeBackingFile,
  startInitiator,
  type AoeLink,
} from "../test/lab/aoe-lab.js";
import { cliPath } from "../test/lab/repo.js";
import { serveOneExportArgs } from "./lib/serve-command.js";
import type { AoeBlockDevice } from "../src/aoe/initiator/aoe-block-device.js";
import type { AoeInitiator } from "../src/aoe/initiator/aoe-initiator.js";
import { errorMessage } from "../src/foundation/errors.js";

const MiB = 1024 * 1024;
const seconds = Number(process.env["BENCH_SECONDS"] ?? 3);
const seqBytes = Number(process.env["BENCH_SEQ_MIB"] ?? 128) * MiB;
const quick = process.env["BENCH_QUICK"] === "1";
const DEVICE_BYTES = Number(process.env["BENCH_DEVICE_MIB"] ?? 1024) * MiB;

interface Cell {
  seqReadMBs: number;
  seqWriteMBs: number;
  randReadIops: number;
  randWriteIops: number;
  window: number;
  /** Target CPU (user + system, all threads) per MB moved in the sequential tests. */
  cpuMsPerMB: number;
}

interface MeasureOptions {
  /** Drop the page cache before reads, so they come from the disk. */
  cold: boolean;
  /** Writes reach stable storage before their reply (ours: durable; vblade: -s, O_SYNC). */
  durable: boolean;
  /** Only the write tests. */
  writesOnly?: boolean;
}

async function dropCaches(): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    spawn("sh", ["-c", "sync && echo 3 > /proc/sys/vm/drop_caches"], { stdio: "ignore" }).once(
      "exit",
      (code) =>
        code === 0 ? resolve() : reject(new Error("cannot drop the page cache (needs root)")),
    ),
  );
}

/** CPU milliseconds (user + system, all threads) a process has used so far. */
function cpuMs(pid: number): number {
  const fields = (fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1] ?? "").split(" ");
  const ticksPerSecond = 100; // USER_HZ on Linux
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}

function spawnIn(link: AoeLink, command: string, args: string[]): ChildProcess {
  return link.net.adopt(
    spawn("ip", ["netns", "exec", link.targetNs.name, command, ...args], {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, ETHERPLANE_LOG: "warn" },
    }),
  );
}

async function openWhenUp(
  initiator: AoeInitiator,
  shelf: number,
  slot: number,
): Promise<AoeBlockDevice> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await initiator.openDevice(shelf, slot, { listenMs: 200 });
    } catch (error) {
      if (attempt > 40) throw error;
    }
  }
}

async function sequential(device: AoeBlockDevice, write: boolean): Promise<number> {
  const piece = Buffer.alloc(4 * MiB, 0x5a);
  const start = performance.now();
  // Four pieces in flight keep the window full across piece boundaries.
  const lanes = 4;
  let offset = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      const own = Buffer.from(piece);
      while (offset < seqBytes) {
        const at = offset % DEVICE_BYTES;
        offset += own.length;
        await (write ? device.write(own, at) : device.read(own, at));
      }
    }),
  );
  return seqBytes / MiB / ((performance.now() - start) / 1000);
}

async function random4k(device: AoeBlockDevice, write: boolean, depth: number): Promise<number> {
  const blocks = DEVICE_BYTES / 4096;
  let x = 12345;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0) % blocks;
  };
  let ios = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: depth }, async () => {
      const buffer = Buffer.alloc(4096, 0xa5);
      while (performance.now() < end) {
        const at = next() * 4096;
        await (write ? device.write(buffer, at) : device.read(buffer, at));
        ios++;
      }
    }),
  );
  return ios / seconds;
}

async function measure(
  link: AoeLink,
  target: "etherplane" | "vblade",
  file: string,
  options: MeasureOptions,
): Promise<Cell> {
  const state = path.join(link.dir, "state");
  const child =
    target === "etherplane"
      ? spawnIn(
          link,
          process.execPath,
          serveOneExportArgs(file, state, options.durable ? ["--durable", "1.0"] : []),
        )
      : spawnIn(link, "vblade", [...(options.durable ? ["-s"] : []), "1", "0", "tgt0", file]);
  const initiator = startInitiator(link.initiatorNs, ["ini0"]);
  try {
    const device = await openWhenUp(initiator, 1, 0);
    const pid = child.pid as number;
    const window = device.target.paths[0]?.bufferCount ?? 0;
    // Frames per 4 KiB request: the window counts frames, so depth in requests is window / that.
    const framesPer4k = Math.ceil(8 / device.sectorsPerFrame);
    const depth = Math.max(1, Math.floor(window / framesPer4k));
    const cpuBefore = cpuMs(pid);
    const seqWriteMBs = await sequential(device, true);
    let seqReadMBs = 0;
    if (!options.writesOnly) {
      if (options.cold) await dropCaches();
      seqReadMBs = await sequential(device, false);
    }
    const cpuMsPerMB = (cpuMs(pid) - cpuBefore) / ((options.writesOnly ? 1 : 2) * (seqBytes / MiB));
    const randWriteIops = await random4k(device, true, depth);
    let randReadIops = 0;
    if (!options.writesOnly) {
      if (options.cold) await dropCaches();
      randReadIops = await random4k(device, false, depth);
    }
    return { seqReadMBs, seqWriteMBs, randReadIops, randWriteIops, window, cpuMsPerMB };
  } finally {
    initiator.close();
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
}

async function memoryWith64Exports(): Promise<{
  rssMB: number;
  hwmMB: number;
  framesInFlight: number;
}> {
  const link = await createAoeLink("benchmem");
  const dir = fs.mkdtempSync("/dev/shm/ep-bench-mem-");
  try {
    const exports = Array.from({ length: 64 }, (_, i) => ({
      address: `2.${i}`,
      path: makeBackingFile(dir, `v${i}.img`, 16 * MiB),
    }));
    const config = path.join(link.dir, "target.json");
    fs.writeFileSync(
      config,
      JSON.stringify({ stateDir: path.join(link.dir, "state"), interfaces: ["tgt0"], exports }),
    );
    const child = spawnIn(link, process.execPath, [cliPath, "aoe", "serve", "--config", config]);
    const initiator = startInitiator(link.initiatorNs, ["ini0"]);
    try {
      const devices = await Promise.all(exports.map((_, i) => openWhenUp(initiator, 2, i)));
      let hwm = 0;
      let rss = 0;
      const end = performance.now() + seconds * 1000;
      const sample = setInterval(() => {
        const status = fs.readFileSync(`/proc/${child.pid}/status`, "utf8");
        hwm = Math.max(hwm, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
        rss = Math.max(rss, Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
      }, 100);
      // Every device keeps its whole window busy with 32 KiB reads and writes.
      await Promise.all(
        devices.map(async (device, i) => {
          const buffer = Buffer.alloc(64 * 1024, i);
          let n = 0;
          while (performance.now() < end) {
            const at = (n++ % 200) * 64 * 1024;
            await Promise.all([
              device.write(buffer, at),
              device.read(Buffer.alloc(64 * 1024), at + 13 * MiB),
            ]);
          }
        }),
      );
      clearInterval(sample);
      return {
        rssMB: rss,
        hwmMB: hwm,
        framesInFlight: 64 * (devices[0]?.target.paths[0]?.bufferCount ?? 0),
      };
    } finally {
      initiator.close();
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    await link.close();
  }
}

const fmt = (n: number, digits = 1) => n.toFixed(digits).padStart(9);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`.padStart(7);

async function main(): Promise<void> {
  const rows: string[] = [];
  rows.push(`| storage | MTU | metric | etherplane | vblade | ratio |`);
  rows.push(`|---|---|---|---:|---:|---:|`);
  const stores: Array<[string, string]> = quick
    ? [["tmpfs", "/dev/shm"]]
    : [
        ["tmpfs", "/dev/shm"],
        ["disk", "/var/tmp"],
      ];
  const mtus = quick ? [1500] : [1500, 9000];
  const line = (store: string, mtu: number, metric: string, a: number, b: number, digits = 1) =>
    rows.push(
      `| ${store} | ${mtu} | ${metric} | ${fmt(a, digits)} | ${fmt(b, digits)} | ${ratio(a, b)} |`,
    );
  for (const [storeName, storeDir] of stores) {
    const dir = fs.mkdtempSync(path.join(storeDir, "ep-bench-"));
    try {
      const file = makeBackingFile(dir, "disk.img", DEVICE_BYTES);
      // Real blocks, so that cold reads come from the disk rather than from holes.
      const chunk = Buffer.alloc(16 * MiB, 0x42);
      const fd = fs.openSync(file, "r+");
      for (let at = 0; at < DEVICE_BYTES; at += chunk.length)
        fs.writeSync(fd, chunk, 0, chunk.length, at);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      const cold = storeName === "disk";
      for (const mtu of mtus) {
        const link = await createAoeLink(`bench${mtu}`, { mtu });
        try {
          const ours = await measure(link, "etherplane", file, { cold, durable: false });
          const theirs = await measure(link, "vblade", file, { cold, durable: false });
          line(storeName, mtu, "seq read MB/s", ours.seqReadMBs, theirs.seqReadMBs);
          line(storeName, mtu, "seq write MB/s", ours.seqWriteMBs, theirs.seqWriteMBs);
          line(storeName, mtu, "4K rand read IOPS", ours.randReadIops, theirs.randReadIops, 0);
          line(storeName, mtu, "4K rand write IOPS", ours.randWriteIops, theirs.randWriteIops, 0);
          line(storeName, mtu, "target CPU ms per MB", ours.cpuMsPerMB, theirs.cpuMsPerMB, 2);
          line(storeName, mtu, "window (frames)", ours.window, theirs.window, 0);
          if (cold) {
            const oursDurable = await measure(link, "etherplane", file, {
              cold,
              durable: true,
              writesOnly: true,
            });
            const theirsDurable = await measure(link, "vblade", file, {
              cold,
              durable: true,
              writesOnly: true,
            });
            line(
              storeName,
              mtu,
              "durable seq write MB/s",
              oursDurable.seqWriteMBs,
              theirsDurable.seqWriteMBs,
            );
            line(
              storeName,
              mtu,
              "durable 4K rand write IOPS",
              oursDurable.randWriteIops,
              theirsDurable.randWriteIops,
              0,
            );
          }
          process.stderr.write(`${storeName} MTU ${mtu} done\n`);
        } finally {
          await link.close();
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const memory = await memoryWith64Exports();
  process.stdout.write(`\n${rows.join("\n")}\n\n`);
  process.stdout.write(
    `etherplane target with 64 exports and full queues (${memory.framesInFlight} frames in flight): RSS ${memory.rssMB.toFixed(0)} MB (peak ${memory.hwmMB.toFixed(0)} MB)\n`,
  );
  process.stdout.write(
    `durable: ours = durable export (group-committed fdatasync), vblade = -s (O_SYNC); disk reads after dropping the page cache\n`,
  );
  process.stdout.write(
    `host: ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? "?"}, Node ${process.version}; initiator: etherplane's (userspace, same for both)\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${errorMessage(error)}\n`);
  process.exitCode = 1;
});
