/**
 * `npm run bench:target`: our AoE target against vblade and `aoebench responder` (a target that
 * answers at once and does no I/O: the most a userspace target can do on this link), measured by
 * aoebench, a C initiator that is not the bottleneck (../shared/tools/aoebench, issue 13). Its
 * bench-target.sh builds a veth pair between two namespaces, a tmpfs backing file, runs each
 * target in turn with every mode at each MTU, and records each target's CPU time; this script
 * runs it and prints MB/s, the ratios ours/vblade and ours/responder, and each target's CPU time
 * per frame (target CPU over the run / frames moved).
 *
 * Environment: BENCH_SECS (per run, default 5), BENCH_REPS (default 1), BENCH_MTUS (default
 * 1500,9000), BENCH_MODES (default seqread,seqwrite,randread,randwrite), BENCH_WINDOW (requests
 * in flight: every target advertises this buffer count, default 64), BENCH_STORAGE (default shm),
 * BENCH_SIZE (default 1G), BENCH_FOREIGN_MAX (% of a CPU other processes may use before a run is
 * redone, default 30), AOEBENCH_DIR (default ../shared/tools/aoebench), BENCH_TARGETS (a subset of
 * etherplane,etherplane-ts,vblade,responder; etherplane-ts is ours with --no-fast-path, every
 * frame through TypeScript, for the before/after of the native fast path), BENCH_CPU_PROFILE=DIR (our target runs with `node --cpu-prof`),
 * BENCH_WORKERS=N (our target runs with `--workers N`: with one export, what the filtered
 * sockets and the worker thread cost).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { cliPath, repoRoot } from "../test/lab/repo.js";

const env = (name: string, fallback: string) => process.env[name] ?? fallback;
const aoebenchDir = path.resolve(repoRoot, env("AOEBENCH_DIR", "../shared/tools/aoebench"));
const window = Number(env("BENCH_WINDOW", "64"));
const profileDir = process.env["BENCH_CPU_PROFILE"];
const workers = process.env["BENCH_WORKERS"];

interface Target {
  label: string;
  command: string;
}

function targets(stateDir: string, aoebench: string): Target[] {
  const profile = profileDir ? `--cpu-prof --cpu-prof-dir ${path.resolve(profileDir)} ` : "";
  const all: Target[] = [
    {
      label: "etherplane",
      command: `${process.execPath} ${profile}${cliPath} aoe serve --iface $IF --export 1.0=$IMG --buffer-count ${window} --state-dir ${stateDir}${workers ? ` --workers ${workers}` : ""}`,
    },
    {
      label: "etherplane-ts",
      command: `${process.execPath} ${profile}${cliPath} aoe serve --no-fast-path --iface $IF --export 1.0=$IMG --buffer-count ${window} --state-dir ${stateDir}${workers ? ` --workers ${workers}` : ""}`,
    },
    { label: "vblade", command: `vblade -b ${window} 1 0 $IF $IMG` },
    {
      label: "responder",
      command: `${aoebench} responder $IF $IMG -b ${window}`,
    },
  ];
  const wanted = env("BENCH_TARGETS", "etherplane,etherplane-ts,vblade,responder").split(",");
  return all.filter((t) => wanted.includes(t.label));
}

interface Run {
  label: string;
  mtu: string;
  mode: string;
  mbps: number;
  fps: number;
  p50: number;
  p99: number;
  tcpu: number;
  retrans: number;
  errors: number;
  vfail: number;
}

function parseRaw(file: string): Run[] {
  const [head, ...lines] = fs.readFileSync(file, "utf8").trim().split("\n");
  const columns = (head ?? "").split("\t");
  const at = (fields: string[], name: string) => fields[columns.indexOf(name)] ?? "";
  return lines.map((line) => {
    const f = line.split("\t");
    return {
      label: at(f, "label"),
      mtu: at(f, "mtu"),
      mode: at(f, "mode"),
      mbps: Number(at(f, "MBps")),
      fps: Number(at(f, "fps")),
      p50: Number(at(f, "p50")),
      p99: Number(at(f, "p99")),
      tcpu: Number(at(f, "tcpu")),
      retrans: Number(at(f, "retrans")),
      errors: Number(at(f, "errors")),
      vfail: Number(at(f, "vfail")),
    };
  });
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

/** CPU µs per frame: the target's share of a CPU over the run divided by its frames per second. */
const cpuUsPerFrame = (run: Run) => (run.fps > 0 ? ((run.tcpu / 100) * 1e6) / run.fps : NaN);

function report(runs: Run[]): string {
  const cells = new Map<string, Map<string, Run[]>>();
  for (const run of runs) {
    const key = `${run.mtu} ${run.mode}`;
    const byLabel = cells.get(key) ?? new Map<string, Run[]>();
    byLabel.set(run.label, [...(byLabel.get(run.label) ?? []), run]);
    cells.set(key, byLabel);
  }
  const out = [
    `| MTU | mode | etherplane MB/s | no fast path MB/s | vblade MB/s | responder MB/s | ours/vblade | ours/responder | ours/no fast path | CPU µs/frame ours | no fast path | vblade | responder | p50 µs ours / vblade |`,
    `|---|---|---|---|---|---|---|---|---|---|---|---|---|---|`,
  ];
  const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : "-");
  for (const [key, byLabel] of cells) {
    const [mtu, mode] = key.split(" ");
    const stat = (label: string, pick: (r: Run) => number) => {
      const list = byLabel.get(label);
      return list ? median(list.map(pick)) : NaN;
    };
    const mb = (label: string) => stat(label, (r) => r.mbps);
    const cpu = (label: string) => stat(label, cpuUsPerFrame);
    out.push(
      `| ${mtu} | ${mode} | ${fmt(mb("etherplane"))} | ${fmt(mb("etherplane-ts"))} | ${fmt(mb("vblade"))} | ${fmt(mb("responder"))} | ${fmt(mb("etherplane") / mb("vblade"), 2)}x | ${fmt(mb("etherplane") / mb("responder"), 2)}x | ${fmt(mb("etherplane") / mb("etherplane-ts"), 2)}x | ${fmt(cpu("etherplane"), 2)} | ${fmt(cpu("etherplane-ts"), 2)} | ${fmt(cpu("vblade"), 2)} | ${fmt(cpu("responder"), 2)} | ${fmt(stat("etherplane", (r) => r.p50))} / ${fmt(stat("vblade", (r) => r.p50))} |`,
    );
  }
  const bad = runs.filter((r) => r.errors > 0 || r.vfail > 0);
  if (bad.length > 0)
    out.push(
      "",
      `runs with errors or verify failures: ${bad.map((r) => `${r.label} ${r.mtu} ${r.mode} (errors ${r.errors}, vfail ${r.vfail})`).join("; ")}`,
    );
  return out.join("\n");
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("run as root: it makes namespaces and raw sockets");
  for (const file of ["bench-target.sh", "aoebench.c"])
    if (!fs.existsSync(path.join(aoebenchDir, file)))
      throw new Error(`${aoebenchDir}/${file} not found: set AOEBENCH_DIR to aoebench's folder`);
  // The shared folder stays read-only (root could write there): the script and the source are
  // copied to a work folder, where the script builds aoebench next to itself.
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "ep-bench-target-"));
  for (const file of ["bench-target.sh", "aoebench.c"])
    fs.copyFileSync(path.join(aoebenchDir, file), path.join(work, file));
  const script = path.join(work, "bench-target.sh");
  const raw = path.join(work, "runs.tsv");
  const args = [
    "--storage",
    env("BENCH_STORAGE", "shm"),
    "--mtus",
    env("BENCH_MTUS", "1500,9000"),
    "--modes",
    env("BENCH_MODES", "seqread,seqwrite,randread,randwrite"),
    "--secs",
    env("BENCH_SECS", "5"),
    "--reps",
    env("BENCH_REPS", "1"),
    "--size",
    env("BENCH_SIZE", "1G"),
    "--foreign-max",
    env("BENCH_FOREIGN_MAX", "30"),
    "--gate-max",
    "30",
    "--gate-total",
    "300",
    "--raw",
    raw,
  ];
  for (const t of targets(path.join(work, "state"), path.join(work, "aoebench")))
    args.push("--label", t.label, "--target", t.command);
  process.stdout.write(`bench-target.sh ${args.join(" ")}\n`);
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn("bash", [script, ...args], { stdio: "inherit" });
    child.once("error", reject);
    child.once("exit", resolve);
  });
  if (!fs.existsSync(raw)) throw new Error(`bench-target.sh exited ${code} without results`);
  process.stdout.write(`\nwindow ${window} for every target; medians; raw runs: ${raw}\n\n`);
  process.stdout.write(report(parseRaw(raw)) + "\n");
  if (code !== 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:target: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 2;
});
