/**
 * `npm run bench:initiator`: etherplane's userspace AoE initiator (AoeBlockDevice over the
 * AF_PACKET addon, what the NBD bridge serves QEMU guests from) against aoebench, a C initiator
 * (../shared/tools/aoebench, issue 13), both on the same veth link, the same target and the same
 * window. Targets: `aoebench responder` (answers at once, no disk: shows the initiator's own
 * limit) and etherplane's target on a tmpfs file. Prints frames/s and each initiator's CPU time
 * per frame: ours is this process's CPU time over the run (it does nothing else meanwhile),
 * aoebench's is its own `icpu`.
 *
 * Environment: BENCH_SECS (per run, default 5), BENCH_MTUS (default 1500,9000), BENCH_MODES
 * (seqread, randread, seqwrite, randwrite; default seqread,randread), BENCH_WINDOW (requests in
 * flight, default 64), BENCH_TARGETS (responder,etherplane), AOEBENCH_DIR (default
 * ../shared/tools/aoebench).
 */
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  createAoeLink,
  makeBackingFile,
  startInitiator,
  type AoeLink,
} from "../test/lab/aoe-lab.js";
import { run } from "../test/lab/netns.js";
import { repoRoot } from "../test/lab/repo.js";
import { serveOneExportArgs } from "./lib/serve-command.js";
import { SECTOR_BYTES } from "../src/aoe/codec/index.js";

const env = (name: string, fallback: string) => process.env[name] ?? fallback;
const aoebenchDir = path.resolve(repoRoot, env("AOEBENCH_DIR", "../shared/tools/aoebench"));
const secs = Number(env("BENCH_SECS", "5"));
const window = Number(env("BENCH_WINDOW", "64"));
const mtus = env("BENCH_MTUS", "1500,9000").split(",").map(Number);
const modes = env("BENCH_MODES", "seqread,randread").split(",");
const wantedTargets = env("BENCH_TARGETS", "responder,etherplane").split(",");
const SIZE_BYTES = 1024 * 1024 * 1024;
/** Random modes move 4 KiB per request, as aoebench does by default. */
const RANDOM_SECTORS = 8;

interface Result {
  target: string;
  mtu: number;
  mode: string;
  initiator: "aoebench" | "etherplane";
  fps: number;
  mbps: number;
  cpuUsPerFrame: number;
  /** Ours only: the user and system (kernel) parts of cpuUsPerFrame. */
  split?: { userUs: number; systemUs: number };
}

async function waitForText(child: ChildProcess, pattern: RegExp, timeoutMs: number) {
  let text = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no ${pattern} in ${timeoutMs} ms: ${text}`)),
      timeoutMs,
    );
    const onData = (d: Buffer) => {
      text += d.toString();
      if (pattern.test(text)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`target exited (${code}): ${text}`)));
  });
}

/** aoebench as the initiator: its one result line, parsed. */
async function aoebenchRun(
  link: AoeLink,
  binary: string,
  mode: string,
): Promise<Omit<Result, "target" | "mtu" | "mode" | "initiator">> {
  const args = [
    mode,
    "ini0",
    "-e",
    "1.0",
    "-t",
    String(secs),
    "-q",
    String(window),
    "-w",
    String(window),
    "-Q",
  ];
  const { stdout, stderr } = await link.initiatorNs.exec(binary, args, (secs + 60) * 1000);
  const fields = new Map(
    stdout
      .trim()
      .split(/\s+/)
      .map((kv) => kv.split("=") as [string, string]),
  );
  const fps = Number(fields.get("frames/s"));
  const icpu = Number((fields.get("icpu") ?? "").replace("%", ""));
  if (!Number.isFinite(fps)) throw new Error(`aoebench ${args.join(" ")}: ${stdout} ${stderr}`);
  return { fps, mbps: Number(fields.get("MB/s")), cpuUsPerFrame: ((icpu / 100) * 1e6) / fps };
}

/** Our initiator: `window` frames in flight for `secs`, its CPU time counted by this process. */
async function ourRun(
  link: AoeLink,
  mode: string,
): Promise<Omit<Result, "target" | "mtu" | "mode" | "initiator">> {
  const initiator = startInitiator(link.initiatorNs, ["ini0"]);
  try {
    const device = await initiator.openDevice(1, 0, { listenMs: 2000 });
    const random = mode.startsWith("rand");
    const write = mode.endsWith("write");
    const sectors = random ? RANDOM_SECTORS : device.sectorsPerFrame;
    const span = Math.floor(device.sizeBytes / SECTOR_BYTES / sectors);
    // A 4 KiB request at MTU 1500 is 4 frames: count frames, and keep `window` frames in flight
    // (aoebench's -w) rather than `window` requests.
    const framesPerRequest = Math.ceil(sectors / device.sectorsPerFrame);
    const lanes = Math.max(1, Math.floor(window / framesPerRequest));
    let next = 0;
    let frames = 0;
    let bytes = 0;
    const deadline = performance.now() + secs * 1000;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const lane = async () => {
      const buffer = Buffer.alloc(sectors * SECTOR_BYTES, 0x5a);
      while (performance.now() < deadline) {
        const slot = random ? Math.floor(Math.random() * span) : next++ % span;
        if (write) await device.writeSectors(buffer, slot * sectors);
        else await device.readSectors(buffer, slot * sectors);
        frames += framesPerRequest;
        bytes += buffer.length;
      }
    };
    await Promise.all(Array.from({ length: lanes }, lane));
    const elapsedS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return {
      fps: frames / elapsedS,
      mbps: bytes / elapsedS / 1e6,
      cpuUsPerFrame: (cpu.user + cpu.system) / frames,
      split: { userUs: cpu.user / frames, systemUs: cpu.system / frames },
    };
  } finally {
    initiator.close();
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("run as root: it makes namespaces and raw sockets");
  if (!fs.existsSync(path.join(aoebenchDir, "aoebench.c")))
    throw new Error(`${aoebenchDir}/aoebench.c not found: set AOEBENCH_DIR to aoebench's folder`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "ep-bench-initiator-"));
  const binary = path.join(work, "aoebench");
  await run("cc", ["-O2", "-Wall", "-o", binary, path.join(aoebenchDir, "aoebench.c")]);
  const results: Result[] = [];
  process.stdout.write(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")} (the machine is shared)\n`,
  );
  for (const mtu of mtus) {
    const link = await createAoeLink("bini", { mtu });
    try {
      const image = makeBackingFile(
        "/dev/shm",
        `ep-bench-initiator-${process.pid}.img`,
        SIZE_BYTES,
      );
      const commands: Record<string, string[]> = {
        responder: [binary, "responder", "tgt0", image, "-b", String(window)],
        etherplane: [
          process.execPath,
          ...serveOneExportArgs(image, path.join(work, `state-${mtu}`), [
            "--buffer-count",
            String(window),
          ]),
        ],
      };
      for (const target of wantedTargets) {
        const command = commands[target];
        if (!command) throw new Error(`BENCH_TARGETS: unknown target ${target}`);
        const [file, ...args] = command as [string, ...string[]];
        const child = link.net.adopt(
          link.targetNs.spawn(file, args, { stdio: ["ignore", "pipe", "pipe"] }),
        );
        try {
          if (target === "etherplane") await waitForText(child, /serving 1 export/, 60_000);
          else await new Promise((r) => setTimeout(r, 500));
          for (const mode of modes) {
            for (const initiator of ["aoebench", "etherplane"] as const) {
              const r =
                initiator === "aoebench"
                  ? await aoebenchRun(link, binary, mode)
                  : await ourRun(link, mode);
              results.push({ target, mtu, mode, initiator, ...r });
              const split = r.split
                ? ` (user ${r.split.userUs.toFixed(2)}, system ${r.split.systemUs.toFixed(2)})`
                : "";
              process.stdout.write(
                `${target} MTU ${mtu} ${mode} ${initiator}: ${r.fps.toFixed(0)} frames/s, ${r.mbps.toFixed(0)} MB/s, ${r.cpuUsPerFrame.toFixed(2)} µs CPU/frame${split}\n`,
              );
            }
          }
        } finally {
          child.kill("SIGTERM");
          await new Promise((r) => child.once("exit", r));
        }
      }
      fs.rmSync(image, { force: true });
    } finally {
      await link.close();
    }
  }
  process.stdout.write(
    `\nwindow ${window}, ${secs} s per run, load average now ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}\n\n` +
      "| target | MTU | mode | aoebench frames/s | ours frames/s | ours/aoebench | CPU µs/frame aoebench | ours |\n" +
      "|---|---|---|---|---|---|---|---|\n",
  );
  for (const r of results.filter((x) => x.initiator === "aoebench")) {
    const ours = results.find(
      (x) =>
        x.initiator === "etherplane" &&
        x.target === r.target &&
        x.mtu === r.mtu &&
        x.mode === r.mode,
    );
    if (!ours) continue;
    process.stdout.write(
      `| ${r.target} | ${r.mtu} | ${r.mode} | ${r.fps.toFixed(0)} | ${ours.fps.toFixed(0)} | ${(ours.fps / r.fps).toFixed(2)}x | ${r.cpuUsPerFrame.toFixed(2)} | ${ours.cpuUsPerFrame.toFixed(2)} |\n`,
    );
  }
  fs.rmSync(work, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench:initiator: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exitCode = 2;
});
