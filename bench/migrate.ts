/**
 * `npm run bench:migrate`: live migration under QEMU/TCG on this machine, beside the stop + start
 * elsewhere it replaces. The lab of the migration tests (test/lab/migration-lab.ts: a controller,
 * a storage host, two qemu compute hosts, each an `etherplane` process in its own namespace) runs
 * a 256 MiB guest booted from an AoE volume, twice:
 *  - idle: a counter written to its disk and console every 100 ms, nothing else;
 *  - busy: the same, plus a loop rewriting a 16 MiB file on its disk (page cache dirtied all along).
 * Each is live-migrated A -> B -> A ... (BENCH_RUNS times, default 3: TCG is slow), and each
 * migration's total time and downtime (QEMU's own figure, from the task's report) are kept; then
 * BENCH_RUNS times `shutdown` + `start --host OTHER`, timed until the guest's new boot prints its
 * counter on the console (the outage a user sees). Medians are printed with every run.
 */
import * as path from "node:path";
import { setLogLevel } from "../src/foundation/log.js";
import { COUNTER_SCRIPT, lastCount, migrationLab } from "../test/lab/migration-lab.js";
import { median } from "./lib/median.js";

setLogLevel("warn");

const RUNS = Number(process.env["BENCH_RUNS"] ?? 3);
const MEMORY_MIB = 256;
const OUTAGE_MS_MAX = 300_000;
const BUSY_SCRIPT = `
(
  while true; do
    yes etherplane-busy-writer | head -c 16777216 > /busy
    sync
  done
) &
`;

async function measure(kind: "idle" | "busy"): Promise<void> {
  const name = `bm${kind}`;
  const m = await migrationLab({
    tag: `bm${kind.slice(0, 1)}`,
    name,
    memoryMiB: MEMORY_MIB,
    initScript: COUNTER_SCRIPT + (kind === "busy" ? BUSY_SCRIPT : ""),
  });
  try {
    const started = await m.cli(["start", name, "--host", "cmpa"]);
    if (started.code !== 0) throw new Error(`start: ${started.stderr}`);
    await m.countOnConsole(5);
    const totals: number[] = [];
    const downtimes: number[] = [];
    const hosts = ["cmpb", "cmpa"];
    for (let i = 0; i < RUNS; i++) {
      const to = hosts[i % 2] ?? "cmpb";
      const moved = await m.cli(["migrate", name, to]);
      const text = moved.stdout + moved.stderr;
      const match = /in ([\d.]+) s, downtime (\d+) ms/.exec(text);
      if (moved.code !== 0 || !match) throw new Error(`migrate ${name} ${to}: ${text}`);
      totals.push(Number(match[1]) * 1000);
      downtimes.push(Number(match[2]));
      process.stdout.write(`${kind} migration ${i + 1}: ${match[1]} s, downtime ${match[2]} ms\n`);
    }
    const outages: number[] = [];
    let on = hosts[(RUNS - 1) % 2] ?? "cmpb";
    for (let i = 0; i < RUNS; i++) {
      const to = on === "cmpa" ? "cmpb" : "cmpa";
      const before = (await m.countOnConsole(0))[1];
      const t0 = Date.now();
      const stopped = await m.cli(["shutdown", name, "--timeout", "60"]);
      if (stopped.code !== 0) throw new Error(`shutdown: ${stopped.stderr}`);
      const restarted = await m.cli(["start", name, "--host", to]);
      if (restarted.code !== 0) throw new Error(`start --host ${to}: ${restarted.stderr}`);
      const session = m.lab.cli(["console", name]);
      await m.lab.waitFor("the new boot's counter", OUTAGE_MS_MAX, () => {
        const seen = lastCount(session.stdout);
        return seen && seen[1] !== before ? null : "";
      });
      outages.push(Date.now() - t0);
      session.child.stdin?.write(Buffer.from([0x1d]));
      await session.wait();
      on = to;
      process.stdout.write(
        `${kind} stop + start elsewhere ${i + 1}: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
      );
    }
    process.stdout.write(
      `${kind} ${MEMORY_MIB} MiB guest, median of ${RUNS}: live migration ${(median(totals) / 1000).toFixed(1)} s, ` +
        `downtime ${median(downtimes)} ms; stop + start elsewhere ${(median(outages) / 1000).toFixed(1)} s ` +
        `(the guest out of service all along)\n`,
    );
  } finally {
    await m.lab.close();
  }
}

const kinds = (process.env["BENCH_KINDS"] ?? "idle,busy").split(",");
for (const kind of kinds) {
  if (kind !== "idle" && kind !== "busy") throw new Error(`BENCH_KINDS: ${kind} is idle or busy`);
  await measure(kind);
}
process.stdout.write(`(lab folders under ${path.resolve("/tmp")}; removed after each guest)\n`);
