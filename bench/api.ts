/**
 * `npm run bench:api`: the controller's REST API over a real SQLite store (on disk, in a temporary
 * folder), served over HTTP on 127.0.0.1. The controller runs in a child process of its own (this
 * file, forked), so the load generator neither shares its event loop nor counts in its memory.
 *
 * With 1,000 and then 10,000 volumes in the store (written straight through the Store: no agent is
 * needed to list or to record a creation), it measures a bounded number of requests:
 * - `GET /api/v1/volumes` one at a time (what an operator's `etherplane volume list` sees), then
 *   with 16 in flight (throughput under load);
 * - `POST /api/v1/volumes` with 16 in flight (each records a volume, a task and an audit entry,
 *   every one an fsync'ed transaction); the volumes it made are removed after the phase, so the
 *   next phase starts from the same count.
 * Each row gives requests/s, p50/p99 latency and the controller's memory after the phase.
 *
 * Environment: BENCH_LIST_REQUESTS (per list phase; default 2000 at 1,000 volumes, 400 at 10,000),
 * BENCH_CREATE_REQUESTS (default 1000 at 1,000 volumes, 400 at 10,000), BENCH_CPU_PROF=DIR (write
 * the controller's CPU profile there, for `node --cpu-prof` tools).
 */
import { fork, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { createApi } from "../src/api/app.js";
import { startApiServer } from "../src/api/server.js";
import { Controller } from "../src/cluster/controller/controller.js";
import type { HostRecord, PoolRecord, VolumeRecord } from "../src/cluster/model.js";
import { openSqliteStore } from "../src/cluster/store/sqlite/index.js";
import { errorMessage } from "../src/foundation/errors.js";

const GiB = 1024 ** 3;
const SIZES = [1_000, 10_000] as const;
const IN_FLIGHT = 16;
const WARMUP_REQUESTS = 20;
const listRequests = (volumes: number): number =>
  Number(process.env["BENCH_LIST_REQUESTS"] ?? (volumes > 1_000 ? 400 : 2_000));
const createRequests = (volumes: number): number =>
  Number(process.env["BENCH_CREATE_REQUESTS"] ?? (volumes > 1_000 ? 400 : 1_000));
/** Every IPC call and every request has a deadline: a stuck controller fails the run. */
const CALL_TIMEOUT_MS = 60_000;
const REQUEST_TIMEOUT_MS = 10_000;

// ---- the controller (child process) -------------------------------------------------------------

/** What the load generator asks the controller process (over the fork's IPC channel). */
type Ask =
  | { op: "seed"; volumes: number }
  | { op: "memory" }
  | { op: "drop"; prefix: string }
  | { op: "stop" };
type Call = Ask & { id: number };

interface Memory {
  rssBytes: number;
  rssPeakBytes: number;
  heapUsedBytes: number;
}

async function controllerMain(dir: string): Promise<void> {
  const store = await openSqliteStore(path.join(dir, "controller.db"));
  const controller = new Controller(store);
  const server = await startApiServer(createApi({ controller }), { host: "127.0.0.1", port: 0 });
  const { secret } = await controller.auth.createToken({ name: "bench", role: "admin" });

  const now = Date.now();
  const host: HostRecord = {
    id: "host-bench",
    name: "bench-storage",
    roles: ["storage"],
    exportInterfaces: ["eth1"],
    inventory: null,
    lastSeenMs: now,
    maintenance: null,
    createdMs: now,
  };
  // As an agent would report it: room for every volume of the run, so no overcommit warning.
  const pool: PoolRecord = {
    id: "pool-bench",
    name: "bench",
    hostId: host.id,
    kind: "directory",
    path: "/srv/etherplane/bench",
    devices: [],
    capacityBytes: 1024 ** 5,
    freeBytes: 1024 ** 5,
    createdMs: now,
  };
  await store.createHost(host);
  await store.createPool(pool);
  let seeded = 0;

  const handle = async (call: Call): Promise<unknown> => {
    switch (call.op) {
      case "seed": {
        for (; seeded < call.volumes; seeded++) {
          const volume: VolumeRecord = {
            id: `vol-seed${String(seeded).padStart(6, "0")}`,
            name: `seed-${String(seeded).padStart(6, "0")}`,
            kind: "volume",
            poolId: pool.id,
            hostId: host.id,
            sizeBytes: 20 * GiB,
            allocatedBytes: 3 * GiB,
            sourceId: null,
            shelf: 1 + Math.floor(seeded / 255),
            slot: seeded % 255,
            exported: true,
            allow: ["00:16:3e:00:00:13", "00:16:3e:00:00:14"],
            allowEveryone: false,
            grants: [],
            appliedGeneration: 0,
            state: "ready",
            error: null,
            generation: 3,
            createdMs: now,
            updatedMs: now,
          };
          await store.createVolume(volume);
        }
        return seeded;
      }
      case "memory": {
        const { rss, heapUsed } = process.memoryUsage();
        const memory: Memory = {
          rssBytes: rss,
          rssPeakBytes: process.resourceUsage().maxRSS * 1024,
          heapUsedBytes: heapUsed,
        };
        return memory;
      }
      case "drop": {
        const made = (await store.listVolumes()).filter((v) => v.name.startsWith(call.prefix));
        for (const volume of made) await store.deleteVolume(volume.id);
        return made.length;
      }
      case "stop":
        await server.close();
        await store.close();
        return null;
    }
  };
  process.on("message", (call: Call) => {
    const reply = (message: object) =>
      // After "stop" the channel closes once the reply is out, and the process ends.
      process.send?.(message, () => (call.op === "stop" ? process.disconnect() : undefined));
    handle(call).then(
      (result) => reply({ id: call.id, result }),
      (error: unknown) => reply({ id: call.id, error: errorMessage(error) }),
    );
  });
  // The load generator is gone (ended, or crashed): close up, so this process ends too.
  process.once("disconnect", () => {
    void server.close().then(() => store.close());
  });
  process.send?.({ id: 0, result: { url: server.url, token: secret } });
}

// ---- the load generator (parent process) -------------------------------------------------------

class ControllerProcess {
  private nextId = 1;
  private readonly waiting = new Map<
    number,
    (reply: { result?: unknown; error?: string }) => void
  >();

  constructor(readonly child: ChildProcess) {
    child.on("message", (reply: { id: number; result?: unknown; error?: string }) => {
      this.waiting.get(reply.id)?.(reply);
      this.waiting.delete(reply.id);
    });
  }

  static start(
    dir: string,
  ): Promise<{ controller: ControllerProcess; url: string; token: string }> {
    const profileDir = process.env["BENCH_CPU_PROF"];
    const child = fork(fileURLToPath(import.meta.url), ["controller", dir], {
      env: { ...process.env, ETHERPLANE_LOG: process.env["ETHERPLANE_LOG"] ?? "warn" },
      execArgv: profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const controller = new ControllerProcess(child);
    return controller.wait<{ url: string; token: string }>(0).then(
      (ready) => ({ controller, ...ready }),
      (error: unknown) => {
        child.kill();
        throw error;
      },
    );
  }

  call<T>(ask: Ask): Promise<T> {
    const id = this.nextId++;
    const reply = this.wait<T>(id);
    this.child.send({ ...ask, id });
    return reply;
  }

  private wait<T>(id: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`the controller did not answer call ${id} in ${CALL_TIMEOUT_MS} ms`));
      }, CALL_TIMEOUT_MS);
      const exited = (code: number | null) =>
        reject(new Error(`the controller exited (code ${code}) before answering call ${id}`));
      this.child.once("exit", exited);
      this.waiting.set(id, (reply) => {
        clearTimeout(timer);
        this.child.off("exit", exited);
        if (reply.error !== undefined) reject(new Error(`controller: ${reply.error}`));
        else resolve(reply.result as T);
      });
    });
  }
}

interface Client {
  send(method: string, url: string, status: number, body?: unknown): Promise<number>;
}

/** Keep-alive HTTP with at most IN_FLIGHT sockets; resolves to the response's size in bytes. */
function httpClient(base: string, token: string): { client: Client; close: () => void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  const client: Client = {
    send: (method, url, status, body) =>
      new Promise((resolve, reject) => {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const request = http.request(
          `${base}${url}`,
          {
            method,
            agent,
            timeout: REQUEST_TIMEOUT_MS,
            headers: {
              authorization: `Bearer ${token}`,
              ...(payload ? { "content-type": "application/json" } : {}),
            },
          },
          (response) => {
            const chunks: Buffer[] = [];
            let bytes = 0;
            response.on("data", (chunk: Buffer) => {
              bytes += chunk.length;
              if (response.statusCode !== status) chunks.push(chunk);
            });
            response.on("end", () => {
              if (response.statusCode === status) return resolve(bytes);
              reject(
                new Error(
                  `${method} ${url}: ${response.statusCode} ${Buffer.concat(chunks).toString().slice(0, 300)}`,
                ),
              );
            });
            response.on("error", reject);
          },
        );
        request.on("timeout", () => request.destroy(new Error(`${method} ${url} timed out`)));
        request.on("error", reject);
        request.end(payload);
      }),
  };
  return { client, close: () => agent.destroy() };
}

interface Result {
  requests: number;
  inFlight: number;
  reqPerS: number;
  p50Ms: number;
  p99Ms: number;
  responseBytes: number;
}

/** `requests` calls of `send(i)`, `inFlight` at a time; latency is per call, end to end. */
async function load(
  requests: number,
  inFlight: number,
  send: (i: number) => Promise<number>,
): Promise<Result> {
  const latencies = new Float64Array(requests);
  let next = 0;
  let responseBytes = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(inFlight, requests) }, async () => {
      while (next < requests) {
        const i = next++;
        const sent = performance.now();
        responseBytes = await send(i);
        latencies[i] = performance.now() - sent;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  latencies.sort();
  const at = (q: number) => latencies[Math.min(requests - 1, Math.ceil(q * requests) - 1)] ?? NaN;
  return {
    requests,
    inFlight,
    reqPerS: requests / seconds,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    responseBytes,
  };
}

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);

async function main(): Promise<void> {
  // On the machine's disk rather than tmpfs: the store's fsyncs do real work there.
  const base = fs.existsSync("/var/tmp") ? "/var/tmp" : os.tmpdir();
  const dir = fs.mkdtempSync(path.join(base, "ep-bench-api-"));
  const { controller, url, token } = await ControllerProcess.start(dir);
  const { client, close } = httpClient(url, token);
  const rows: string[] = [
    "| volumes | request | in flight | requests | req/s | p50 ms | p99 ms | response KB | controller RSS MB (peak) | heap used MB |",
    "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const row = async (volumes: string, what: string, result: Result) => {
    const memory = await controller.call<Memory>({ op: "memory" });
    rows.push(
      `| ${volumes} | ${what} | ${result.inFlight} | ${result.requests} | ${result.reqPerS.toFixed(0)} | ` +
        `${result.p50Ms.toFixed(1)} | ${result.p99Ms.toFixed(1)} | ${(result.responseBytes / 1024).toFixed(0)} | ` +
        `${mb(memory.rssBytes)} (${mb(memory.rssPeakBytes)}) | ${mb(memory.heapUsedBytes)} |`,
    );
    process.stderr.write(`${rows[rows.length - 1]}\n`);
  };
  try {
    for (const volumes of SIZES) {
      const seedStart = performance.now();
      await controller.call<number>({ op: "seed", volumes });
      process.stderr.write(
        `seeded ${volumes} volumes in ${((performance.now() - seedStart) / 1000).toFixed(1)} s\n`,
      );
      const list = () => client.send("GET", "/api/v1/volumes", 200);
      await load(WARMUP_REQUESTS, 1, list);
      const label = volumes.toLocaleString("en");
      await row(label, "GET /api/v1/volumes", await load(listRequests(volumes), 1, list));
      await row(label, "GET /api/v1/volumes", await load(listRequests(volumes), IN_FLIGHT, list));

      const prefix = `new-${volumes}-`;
      const create = (i: number) =>
        client.send("POST", "/api/v1/volumes", 202, { name: `${prefix}${i}`, sizeBytes: GiB });
      const creates = createRequests(volumes);
      await load(WARMUP_REQUESTS, 1, (i) => create(creates + i));
      await row(label, "POST /api/v1/volumes", await load(creates, IN_FLIGHT, create));
      await controller.call<number>({ op: "drop", prefix });
    }
  } finally {
    close();
    await controller.call({ op: "stop" }).catch(() => controller.child.kill());
    fs.rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`\n${rows.join("\n")}\n\n`);
  process.stdout.write(
    `host: ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? "?"}, Node ${process.version}; ` +
      `store: SQLite (WAL, synchronous=FULL) on ${base}; POST rows create that many volumes on ` +
      `top of those shown (removed again after the row)\n`,
  );
}

if (process.argv[2] === "controller") {
  controllerMain(process.argv[3] as string).catch((error: unknown) => {
    process.stderr.write(`bench controller failed: ${errorMessage(error)}\n`);
    process.exitCode = 1;
  });
} else {
  main().catch((error: unknown) => {
    process.stderr.write(`bench failed: ${errorMessage(error)}\n`);
    process.exitCode = 1;
  });
}
