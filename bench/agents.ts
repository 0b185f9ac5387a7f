/**
 * `npm run bench:agents`: can one controller keep N agents' leases on this machine without a
 * false death? The real controller (`etherplane controller`, its own process, SQLite on disk,
 * plain HTTP on 127.0.0.1) and N SIMULATED agents in this process: each renews its lease every
 * renewal period the controller grants (POST /api/v1/agent/lease), keeps one long-poll for its
 * desired state open (GET /api/v1/agent/desired?after=REV&waitMs=25000) and reports its status
 * once, as a storage agent with nothing to serve does when nothing changes. They all start at
 * once, each with the real agent's random start spread (agent.ts startSpread): its first report
 * and desired state within 1 s, its first renewal within one renewal period.
 *
 * Per N it prints the renewal latency (p50, p99, max), the renewals that failed, the false lease
 * expiries (hosts the controller saw suspect or dead, sampled every 2 s through GET
 * /api/v1/hosts) and the controller's CPU (from /proc) per agent.
 *
 * Environment: BENCH_AGENTS (default "200,500,1000"), BENCH_SECONDS (measured seconds per N,
 * default 20), BENCH_CONTROLLER_NODE_FLAGS (node flags for the controller, e.g. a CPU profile),
 * BENCH_LEASE ("RENEW,SUSPECT,DEAD" in ms, e.g. "500,1500,2500": the controller's lease flags;
 * default its own defaults).
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { startSpread } from "../src/cluster/agent/agent.js";
import { Controller } from "../src/cluster/controller/controller.js";
import { LEASE_DEFAULT } from "../src/cluster/controller/host-liveness.js";
import { openSqliteStore } from "../src/cluster/store/sqlite/index.js";
import { setLogLevel } from "../src/foundation/log.js";

setLogLevel("warn");

const COUNTS = (process.env["BENCH_AGENTS"] ?? "200,500,1000").split(",").map(Number);
const SECONDS = Number(process.env["BENCH_SECONDS"] ?? 20);
/** The controller's lease flags: "RENEW,SUSPECT,DEAD" in ms. */
const LEASE = process.env["BENCH_LEASE"]?.split(",").map(Number);
if (LEASE && (LEASE.length !== 3 || LEASE.some((n) => !Number.isInteger(n) || n <= 0)))
  throw new Error(`BENCH_LEASE=${process.env["BENCH_LEASE"]}: give RENEW,SUSPECT,DEAD in ms`);
const LEASE_FLAGS = LEASE
  ? ["--lease-renew-ms", "--lease-suspect-ms", "--lease-dead-ms"].flatMap((flag, i) => [
      flag,
      String(LEASE[i]),
    ])
  : [];
/** Until the controller's first answer (as the agent's lease holder). */
const RENEW_MS = LEASE?.[0] ?? LEASE_DEFAULT.renewMs;
const LONG_POLL_MS = 25_000;
const REQUEST_TIMEOUT_MS = 30_000;
const STARTUP_MS_MAX = 30_000;
/** How often the host list is sampled for suspect or dead hosts (itself a load: 1,000 hosts). */
const SAMPLE_MS = Number(process.env["BENCH_SAMPLE_MS"] ?? 2000);
/** Node flags for the controller only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" (a profile). */
const NODE_FLAGS = (process.env["BENCH_CONTROLLER_NODE_FLAGS"] ?? "").split(" ").filter(Boolean);
const HZ = 100; // USER_HZ: /proc/PID/stat counts ticks of 1/100 s (proc(5))

const main = path.join(path.dirname(fileURLToPath(import.meta.url)), "../src/cli/main.js");
const httpAgent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

function call(
  port: number,
  method: string,
  pathname: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const request = http.request(
      {
        host: "127.0.0.1",
        port,
        method,
        path: pathname,
        agent: httpAgent,
        timeout: REQUEST_TIMEOUT_MS,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload ? { "content-type": "application/json" } : {}),
        },
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (text += chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
      },
    );
    request.once("timeout", () => request.destroy(new Error("timed out")));
    request.once("error", reject);
    request.end(payload);
  });
}

function cpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command's closing parenthesis: utime is the 14th, stime the 15th (proc(5)).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** Hosts and their agent tokens, written to the store before the controller starts. */
async function seed(dir: string, count: number): Promise<{ admin: string; agents: string[] }> {
  const store = await openSqliteStore(path.join(dir, "controller.db"));
  const controller = new Controller(store);
  const admin = (await controller.auth.createToken({ name: "admin", role: "admin" })).secret;
  const agents: string[] = [];
  for (let i = 0; i < count; i++) {
    const host = await controller.agents.registerHost({
      name: `sim${i}`,
      roles: ["storage"],
      exportInterfaces: [],
    });
    const { secret } = await controller.auth.createToken({
      name: `agent:${host.name}`,
      role: "agent",
      hostId: host.id,
    });
    agents.push(secret);
  }
  await store.close();
  return { admin, agents };
}

async function startController(dir: string, port: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      ...NODE_FLAGS,
      main,
      "controller",
      "--data-dir",
      dir,
      "--listen",
      `127.0.0.1:${port}`,
      ...LEASE_FLAGS,
    ],
    { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, ETHERPLANE_LOG: "warn" } },
  );
  const deadline = Date.now() + STARTUP_MS_MAX;
  for (;;) {
    try {
      const { status } = await call(port, "GET", "/api/v1/health", "");
      if (status === 200) return child;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error("the controller did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Result {
  latenciesMs: number[];
  failures: number;
  firstFailure?: string;
  falseSuspect: Set<string>;
  falseDead: Set<string>;
}

async function run(count: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ep-bench-agents-"));
  const { admin, agents } = await seed(dir, count);
  const port = await freePort();
  const child = await startController(dir, port);
  const pid = child.pid ?? 0;
  const result: Result = {
    latenciesMs: [],
    failures: 0,
    falseSuspect: new Set(),
    falseDead: new Set(),
  };
  let running = true;
  let measuring = false;
  let reported = 0;
  const startMs = performance.now();
  const startWallMs = Date.now();
  let warmUpFailures = 0;
  let warmUpLatencyMsMax = 0;
  let firstWarmUpFailure: string | undefined;
  // The simulator's own lateness: 1,000 agents in one process on a loaded machine send late too,
  // which the controller cannot tell from a slow agent (printed beside the results).
  const simDelay = monitorEventLoopDelay({ resolution: 20 });
  simDelay.enable();
  const loops: Array<Promise<void>> = [];
  const renewing: Array<Promise<void>> = [];
  for (const token of agents) {
    // The real agent's start: a random delay before its first renewal and its first report.
    const spread = startSpread(RENEW_MS);
    // Renewals every renewal period (the controller's answer sets it).
    renewing.push(
      (async () => {
        let renewMs = RENEW_MS;
        await new Promise((r) => setTimeout(r, spread.renewMs));
        while (running) {
          const startMs = performance.now();
          const counted = measuring; // only renewals sent in the measured window
          try {
            const { status, text } = await call(port, "POST", "/api/v1/agent/lease", token);
            if (status !== 200) throw new Error(`HTTP ${status}`);
            renewMs = (JSON.parse(text) as { renewMs: number }).renewMs;
            // Every renewal sent in the window counts, also one answered after it (a stall).
            if (counted) result.latenciesMs.push(performance.now() - startMs);
            else warmUpLatencyMsMax = Math.max(warmUpLatencyMsMax, performance.now() - startMs);
          } catch (error) {
            const message = error instanceof Error ? error.message : String(error);
            if (counted) {
              result.failures++;
              result.firstFailure ??= message;
            } else {
              warmUpFailures++;
              firstWarmUpFailure ??= `${message} after ${(performance.now() - startMs).toFixed(0)} ms`;
            }
          }
          const leftMs = renewMs - (performance.now() - startMs);
          if (leftMs > 0) await new Promise((r) => setTimeout(r, leftMs));
        }
      })(),
    );
    // The desired state once, then a long-poll that waits for a change.
    loops.push(
      (async () => {
        let revision = "";
        await new Promise((r) => setTimeout(r, spread.reportMs));
        await call(port, "PUT", "/api/v1/agent/status", token, {
          inventory: { hostname: "sim", agentVersion: "bench", interfaces: [] },
          pools: [],
          volumes: [],
          foreignTargets: [],
        })
          .catch(() => undefined)
          .finally(() => reported++);
        while (running) {
          try {
            const query = revision ? `?after=${revision}&waitMs=${LONG_POLL_MS}` : "";
            const { status, text } = await call(
              port,
              "GET",
              `/api/v1/agent/desired${query}`,
              token,
            );
            if (status === 200) revision = (JSON.parse(text) as { revision: string }).revision;
          } catch {
            await new Promise((r) => setTimeout(r, 500));
          }
        }
      })(),
    );
  }
  // Warm up: every agent has reported once (its first status writes the store), then renews.
  while (reported < count) await new Promise((r) => setTimeout(r, 100));
  const joinedS = (performance.now() - startMs) / 1000;
  await new Promise((r) => setTimeout(r, 5000));
  measuring = true;
  const cpuBefore = cpuTicks(pid);
  const simBefore = process.cpuUsage();
  const wallBefore = performance.now();
  const endMs = Date.now() + SECONDS * 1000;
  while (Date.now() < endMs) {
    await new Promise((r) => setTimeout(r, SAMPLE_MS));
    try {
      const { text } = await call(port, "GET", "/api/v1/hosts?limit=1000", admin);
      for (const host of (JSON.parse(text) as { hosts: Array<{ name: string; state?: string }> })
        .hosts) {
        if (host.state === "suspect") result.falseSuspect.add(host.name);
        if (host.state === "dead" || host.state === "fenced") result.falseDead.add(host.name);
      }
    } catch {
      // counted by the renewals' failures
    }
  }
  simDelay.disable();
  const cpuS = (cpuTicks(pid) - cpuBefore) / HZ;
  const sim = process.cpuUsage(simBefore);
  const simS = (sim.user + sim.system) / 1e6;
  const wallS = (performance.now() - wallBefore) / 1000;
  measuring = false;
  running = false;
  // The renewals sent in the window get their answer (or their timeout) before the end.
  await Promise.allSettled(renewing);
  // False deaths over the whole run, warm-up included: the HA manager's "lease lost" events.
  const lost = await call(port, "GET", "/api/v1/cluster-events?sinceMs=0&limit=10000", admin)
    .then(({ text }) =>
      (
        JSON.parse(text) as { events: Array<{ kind: string; message: string; timeMs: number }> }
      ).events.filter((e) => e.kind === "ha.step" && /: lease lost/.test(e.message)),
    )
    .catch(() => []);
  const lostHosts = new Set(lost.map((e) => e.message.split(":")[0]));
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  httpAgent.destroy();
  await Promise.allSettled(loops);
  fs.rmSync(dir, { recursive: true, force: true });
  const sorted = result.latenciesMs.sort((a, b) => a - b);
  const cpuPct = (100 * cpuS) / wallS;
  process.stdout.write(
    `${String(count).padStart(5)} agents | lease ${LEASE?.join("/") ?? "default"} | renewals ${String(sorted.length).padStart(6)} ` +
      `(${(sorted.length / wallS).toFixed(0)}/s) p50 ${quantile(sorted, 0.5).toFixed(1)} ms ` +
      `p99 ${quantile(sorted, 0.99).toFixed(1)} ms max ${(sorted.at(-1) ?? Number.NaN).toFixed(1)} ms | ` +
      `failed ${result.failures}${result.firstFailure ? ` (${result.firstFailure})` : ""}, in the warm-up ${warmUpFailures}${firstWarmUpFailure ? ` (${firstWarmUpFailure})` : ""}, its slowest renewal ${warmUpLatencyMsMax.toFixed(0)} ms | false suspect ${result.falseSuspect.size} ` +
      `false dead ${result.falseDead.size} (whole run: ${lostHosts.size} hosts' leases lost${lost[0] ? `, the first ${((lost[0].timeMs - startWallMs) / 1000).toFixed(1)} s after the agents started: "${lost[0].message}"` : ""}) | controller CPU ${cpuPct.toFixed(1)}% ` +
      `(${((cpuPct * 10) / count).toFixed(3)} ms/s per agent) | simulator CPU ${((100 * simS) / wallS).toFixed(0)}%, its event loop late by up to ${(simDelay.max / 1e6).toFixed(0)} ms (whole run) | first reports in ${joinedS.toFixed(1)} s | load ${os.loadavg()[0]?.toFixed(1)}\n`,
  );
}

process.stdout.write(
  `lease renewal every ${RENEW_MS} ms (BENCH_LEASE ${process.env["BENCH_LEASE"] ?? "unset: the controller's defaults"}), long-poll ${LONG_POLL_MS} ms, ${SECONDS} s measured per row; ` +
    `controller and simulator on the same ${os.cpus().length} CPUs\n`,
);
for (const count of COUNTS) await run(count);
