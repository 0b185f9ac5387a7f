/**
 * `npm run bench:p2v`: P2V of a server with BENCH_P2V_MIB (default 1024) MiB of files, beside the
 * seed's hand pipeline on the same two hosts. The server is the P2V tests' (test/lab/p2v-source.ts:
 * a real OpenSSH sshd in the storage host's namespace, sessions chrooted into its own ext4 root),
 * its files half random (incompressible: databases, archives) and half text (logs, code). The
 * storage host is an `etherplane` agent of a cluster lab (test/lab/cluster-lab.ts), p2v runs there
 * as the README says. Measured:
 *  - p2v's first pass (tar over SSH into the new volume, fix-ups, domain defined): MB/s of file
 *    data (the report's bytes over the command's time);
 *  - p2v --final after 1 % of the files changed (rsync over SSH): its time, the downtime;
 *  - the seed's `tar -czf - / | ssh ... 'tar -xzf -'` into a mounted ext4 of the same size on the
 *    same host: its MB/s, and its time is also its downtime (it has no incremental pass).
 * One run of each (1 GiB takes minutes here); the ratios are what to read.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { PoolRecord } from "../src/cluster/model.js";
import { setLogLevel } from "../src/foundation/log.js";
import { runCli } from "../test/lab/cli-process.js";
import { ClusterLab } from "../test/lab/cluster-lab.js";
import { P2vSource } from "../test/lab/p2v-source.js";

setLogLevel("warn");

const MIB = 1024 ** 2;
const DATA_MIB = Number(process.env["BENCH_P2V_MIB"] ?? 1024);
const FILE_MIB = 1;
const CHANGED_FRACTION = 0.01;
const COMMAND_MS_MAX = 3 * 3_600_000;

interface Report {
  bytes: number;
  files: number;
}

function fillSource(root: string): string[] {
  const dir = path.join(root, "srv/bench");
  fs.mkdirSync(dir, { recursive: true });
  const names: string[] = [];
  // Log-like text, FILE_MIB MiB exactly (Buffer.alloc repeats the line).
  const text = Buffer.alloc(FILE_MIB * MIB, "10.0.0.7 - - GET /index.html 200 5124 etherplane\n");
  for (let i = 0; i < DATA_MIB / FILE_MIB; i++) {
    const name = path.join(dir, `f${String(i).padStart(5, "0")}`);
    fs.writeFileSync(name, i % 2 === 0 ? randomBytes(FILE_MIB * MIB) : text);
    names.push(name);
  }
  return names;
}

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = process.hrtime.bigint();
  const value = await run();
  return { value, ms: Number(process.hrtime.bigint() - start) / 1e6 };
}

function doneReport(stdout: string): Report {
  const done = stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { event?: string; report?: Report })
    .find((e) => e.event === "done");
  if (!done?.report) throw new Error(`no report in: ${stdout.slice(-2000)}`);
  return done.report;
}

const mbps = (bytes: number, ms: number) => (bytes / 1e6 / (ms / 1000)).toFixed(1);

async function main(): Promise<void> {
  const lab = await ClusterLab.create("p2vbench");
  const source = P2vSource.create("p2vbench", {
    rootImageBytes: (DATA_MIB + 256) * MIB,
  });
  try {
    await lab.startController();
    const storage = await lab.storageHost("sto1");
    await lab.startAgent(storage);
    const pool = await lab.call<{ pool: PoolRecord }>("POST", "/api/v1/pools", {
      host: "sto1",
      name: "p1",
      kind: "directory",
      path: path.join(storage.dataDir, "pool"),
    });
    if (pool.status !== 201) throw new Error(JSON.stringify(pool.body));
    process.stdout.write(`writing ${DATA_MIB} MiB of files on the source...\n`);
    const files = fillSource(source.root);
    execFileSync("sync");
    await source.start(storage.ns);
    const p2v = (extra: string[]) =>
      runCli(
        [
          "p2v",
          `root@127.0.0.1:${source.port}`,
          ...["--name", "bench", "--pool", "p1", "--memory", "256", "--vcpus", "1"],
          ...["--identity", source.identity, "--known-hosts", source.knownHosts],
          ...["--boot-dir", path.join(storage.dataDir, "boot"), "--json"],
          ...["--controller", lab.controllerUrl],
          ...extra,
        ],
        {
          ns: storage.ns,
          env: { ETHERPLANE_TOKEN: lab.adminToken },
          timeoutMs: COMMAND_MS_MAX,
        },
      );

    const first = await timed(() => p2v([]));
    if (first.value.code !== 0) throw new Error(`p2v: ${first.value.stderr}`);
    const firstReport = doneReport(first.value.stdout);

    const changed = files.filter((_, i) => i % Math.round(1 / CHANGED_FRACTION) === 0);
    for (const file of changed) fs.writeFileSync(file, randomBytes(FILE_MIB * MIB));
    const final = await timed(() => p2v(["--final"]));
    if (final.value.code !== 0) throw new Error(`p2v --final: ${final.value.stderr}`);
    const finalReport = doneReport(final.value.stdout);

    // The seed's pipeline into an ext4 of the same size, mounted on the same host.
    const image = path.join(storage.dataDir, "seed.img");
    const mnt = path.join(storage.dataDir, "seed-mnt");
    fs.writeFileSync(image, "");
    fs.truncateSync(image, (DATA_MIB + 512) * MIB);
    execFileSync("mkfs.ext4", ["-q", "-F", image]);
    fs.mkdirSync(mnt);
    execFileSync("mount", ["-o", "loop", image, mnt]);
    let seedMs: number;
    try {
      const ssh = `ssh -i ${source.identity} -p ${source.port} -o UserKnownHostsFile=${source.knownHosts} -o BatchMode=yes root@127.0.0.1`;
      // As the seed ran it (tar -czf - / | ssh dom0 'cd /mnt; tar -xzf -'), from the other end:
      // the source's tar and gzip, the SSH stream, tar -x into the mounted volume.
      const seed = await timed(() =>
        storage.ns.exec(
          "sh",
          ["-c", `${ssh} 'tar --one-file-system -czf - /' | tar -xzf - -C ${mnt}`],
          COMMAND_MS_MAX,
        ),
      );
      seedMs = seed.ms;
    } finally {
      execFileSync("umount", [mnt]);
    }

    const lines = [
      `P2V of ${DATA_MIB} MiB of files (${files.length} files of ${FILE_MIB} MiB, half random, half text), one run each:`,
      `  p2v first pass:     ${(first.ms / 1000).toFixed(1)} s, ${firstReport.files} files, ${(firstReport.bytes / MIB).toFixed(0)} MiB -> ${mbps(firstReport.bytes, first.ms)} MB/s`,
      `  p2v --final (1 %):  ${(final.ms / 1000).toFixed(1)} s, ${finalReport.files} files, ${(finalReport.bytes / MIB).toFixed(1)} MiB sent (${changed.length} changed)`,
      `  seed tar -czf|ssh:  ${(seedMs / 1000).toFixed(1)} s -> ${mbps(firstReport.bytes, seedMs)} MB/s; its downtime is the whole copy`,
      `  ratios: p2v/seed throughput ${(seedMs / first.ms).toFixed(2)}x; seed downtime / p2v downtime ${(seedMs / final.ms).toFixed(1)}x`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    await source.close();
    await lab.close();
  }
}

await main();
