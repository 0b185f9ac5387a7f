/**
 * `npm run bench:ha`: failover time after a compute host's power loss, on this machine, with real
 * processes: the lab of the HA chaos test (test/lab/cluster-lab.ts: a controller, a storage host
 * and two qemu compute hosts, each an `etherplane` process in its own network namespace) and one
 * HA domain (on_crash = 'restart') whose disk is an AoE volume of the storage host.
 *
 * Each kill: the running host's agent, QEMU and disk bridge are killed with -9 (by PID) and its
 * SAN and management links go down, as a power loss. The times come from the controller's event
 * log (`etherplane events`), measured from the kill: lease lost (detection), fence confirmed by
 * the storage host, placed on the other host, and the domain `running` there (its QEMU process
 * started and answering QMP, as the agent reports it). The guest's own boot is excluded on
 * purpose: under TCG on a loaded 2-core machine a Linux boot takes minutes and says nothing about
 * HA. So the guest is a 4 KiB multiboot kernel (assembled here with `as`/`ld`) that halts the
 * CPU: QEMU runs, the disk is attached over AoE, nothing boots. Then the killed host comes back
 * (links up, agent restarted), is taken back (`up`), and the next kill hits the other host.
 *
 * Environment: BENCH_KILLS (default 20), BENCH_LEASE (extra controller flags, e.g.
 * "--lease-dead-ms 3000 --lease-suspect-ms 2000"; default: the controller's defaults).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { LEASE_DEFAULT } from "../src/cluster/controller/host-liveness.js";
import type { DomainRecord, EventRecord, HostRecord, TaskRecord } from "../src/cluster/model.js";
import { setLogLevel } from "../src/foundation/log.js";
import { ClusterLab, type StorageHost } from "../test/lab/cluster-lab.js";
import {
  diskBridgePids,
  processesNaming,
  agentDir,
  qemuPids,
  signalAll,
} from "../test/lab/host-processes.js";
import { run } from "../test/lab/netns.js";
import { median } from "./lib/median.js";

setLogLevel("warn");

const KILLS = Number(process.env["BENCH_KILLS"] ?? 20);
const LEASE_FLAGS = (process.env["BENCH_LEASE"] ?? "").split(" ").filter((s) => s !== "");
const DOMAIN = "hab1";
const TASK_MS_MAX = 120_000;
const FAILOVER_MS_MAX = 300_000;
const VOLUME_BYTES = 16 * 1024 * 1024;

/** A multiboot (v1) kernel that halts: header magic, flags 0, checksum; then cli; hlt forever. */
const HALT_KERNEL = `
.section .text
.globl _start
.align 4
  .long 0x1BADB002
  .long 0
  .long -0x1BADB002
_start:
  cli
1: hlt
  jmp 1b
`;

interface Kill {
  from: string;
  to: string;
  lostMs: number;
  fencedMs: number;
  placedMs: number;
  startedMs: number;
}

async function haltKernel(dir: string): Promise<string> {
  const source = path.join(dir, "halt.s");
  fs.writeFileSync(source, HALT_KERNEL);
  await run("as", ["--32", "-o", path.join(dir, "halt.o"), source]);
  const kernel = path.join(dir, "halt.elf");
  await run("ld", [
    "-m",
    "elf_i386",
    "-Ttext",
    "0x100000",
    "-e",
    "_start",
    "-o",
    kernel,
    path.join(dir, "halt.o"),
  ]);
  return kernel;
}

async function main(): Promise<void> {
  const lab = await ClusterLab.create("hab");
  try {
    await lab.startController(LEASE_FLAGS);
    const storage = await lab.storageHost("sto1");
    await lab.startAgent(storage);
    const hosts = [await lab.computeHost("cmpa", "qemu"), await lab.computeHost("cmpb", "qemu")];
    for (const h of hosts) await lab.startAgent(h);
    const hostsView = async () =>
      (await lab.call<{ hosts: Array<HostRecord & { state?: string }> }>("GET", "/api/v1/hosts"))
        .body.hosts;
    await lab.waitFor("both compute hosts' hypervisors", 120_000, async () => {
      const ready = (await hostsView()).filter((h) => h.inventory?.hypervisor?.kind === "qemu");
      return ready.length === 2 ? null : `${ready.length} of 2`;
    });
    const names = new Map((await hostsView()).map((h) => [h.id, h.name]));
    const cli = async (args: string[]) => {
      const daemon = lab.cli(args);
      const code = await daemon.wait();
      if (code !== 0) throw new Error(`etherplane ${args.join(" ")}: ${daemon.stderr}`);
      return daemon.stdout;
    };

    const pool = await lab.call("POST", "/api/v1/pools", {
      host: "sto1",
      name: "p1",
      kind: "directory",
      path: path.join(storage.dataDir, "pool"),
    });
    if (pool.status !== 201) throw new Error(`pool: ${JSON.stringify(pool.body)}`);
    const created = await lab.call<{ task: TaskRecord; volume: { shelf: number; slot: number } }>(
      "POST",
      "/api/v1/volumes",
      { name: "hab1-root", sizeBytes: VOLUME_BYTES },
    );
    if (created.status !== 202) throw new Error(`volume: ${JSON.stringify(created.body)}`);
    await lab.waitFor("the volume", TASK_MS_MAX, async () => {
      const { body } = await lab.call<{ task: TaskRecord }>(
        "GET",
        `/api/v1/tasks/${created.body.task.id}`,
      );
      return body.task.state === "succeeded" ? null : body.task.state;
    });
    const device = `e${created.body.volume.shelf}.${created.body.volume.slot}`;
    const kernel = await haltKernel(lab.dir);
    for (const h of hosts) {
      lab.bootFile(h, kernel);
      await cli(["network", "create", "xenbr1", "--host", h.name]);
    }
    const imported = await lab.call("POST", "/api/v1/domains", {
      config: [
        `name = "${DOMAIN}"`,
        `kernel = "${path.basename(kernel)}"`,
        "memory = 32",
        "vif = [ 'bridge=xenbr1' ]",
        `disk = [ 'phy:/dev/etherd/${device},xvda,w' ]`,
        "on_poweroff = 'destroy'",
        "on_crash = 'restart'",
        "",
      ].join("\n"),
    });
    if (imported.status !== 201) throw new Error(`import: ${JSON.stringify(imported.body)}`);
    await cli(["start", DOMAIN, "--host", "cmpa"]);
    const domain = async () =>
      (await lab.call<{ domain: DomainRecord }>("GET", `/api/v1/domains/${DOMAIN}`)).body.domain;
    const runningOn = async (name: string) => {
      const d = await domain();
      return d.observed?.state === "running" && names.get(d.hostId ?? "") === name;
    };
    await lab.waitFor("the domain running on cmpa", TASK_MS_MAX, async () =>
      (await runningOn("cmpa")) ? null : "not yet",
    );

    const kills: Kill[] = [];
    for (let i = 0; i < KILLS; i++) {
      const victim = hosts[i % 2] as StorageHost;
      const other = hosts[(i + 1) % 2] as StorageHost;
      const pids = [victim.agent?.child.pid ?? -1, ...qemuPids(victim), ...diskBridgePids(victim)];
      const killedMs = Date.now();
      signalAll(pids, "SIGKILL");
      await victim.ns.exec("ip", ["link", "set", victim.aoeIf, "down"]);
      await victim.ns.exec("ip", ["link", "set", "mgmt0", "down"]);
      await victim.agent?.wait();
      await lab.waitFor(`the domain running on ${other.name}`, FAILOVER_MS_MAX, async () =>
        (await runningOn(other.name)) ? null : JSON.stringify((await domain()).observed?.state),
      );
      const { body } = await lab.call<{ events: EventRecord[] }>(
        "GET",
        `/api/v1/cluster-events?sinceMs=${killedMs}&limit=1000`,
      );
      const at = (what: string, match: (e: EventRecord) => boolean) => {
        const found = body.events.find(match);
        if (!found) throw new Error(`kill ${i + 1}: no event for ${what}`);
        return found.timeMs - killedMs;
      };
      const step = (pattern: RegExp) => (e: EventRecord) =>
        e.kind === "ha.step" && pattern.test(e.message);
      const kill: Kill = {
        from: victim.name,
        to: other.name,
        lostMs: at("lease lost", step(new RegExp(`host ${victim.name}: lease lost`))),
        fencedMs: at(
          "fence confirmed",
          step(new RegExp(`host ${victim.name}: fence confirmed by storage host sto1`)),
        ),
        placedMs: at("placed", step(new RegExp(`domain ${DOMAIN}: placed on ${other.name}`))),
        startedMs: at(
          "started",
          (e) =>
            e.kind === "domain.started" && e.subject === DOMAIN && e.fields["host"] === other.name,
        ),
      };
      kills.push(kill);
      process.stdout.write(
        `kill ${i + 1} (${kill.from} -> ${kill.to}): lease lost +${kill.lostMs} ms, fence confirmed +${kill.fencedMs} ms, placed +${kill.placedMs} ms, started +${kill.startedMs} ms\n`,
      );
      // The victim comes back: leftovers gone, links up, agent restarted, taken back (`up`).
      await lab.waitFor(`${victim.name}'s processes gone`, 60_000, () => {
        const left = [
          ...processesNaming(agentDir(victim), "qemu-system"),
          ...diskBridgePids(victim),
        ];
        return left.length === 0 ? null : left.join(",");
      });
      await victim.ns.exec("ip", ["link", "set", victim.aoeIf, "up"]);
      await victim.ns.exec("ip", ["link", "set", "mgmt0", "up"]);
      await lab.startAgent(victim);
      await lab.waitFor(`${victim.name} up again`, 120_000, async () => {
        const state = (await hostsView()).find((h) => h.name === victim.name)?.state;
        return state === "up" ? null : `${state}`;
      });
    }

    const row = (label: string, pick: (k: Kill) => number) => {
      const values = kills.map(pick);
      return `| ${label} | ${(median(values) / 1000).toFixed(2)} s | ${(Math.max(...values) / 1000).toFixed(2)} s |`;
    };
    const load = fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
    process.stdout.write(
      [
        "",
        `${kills.length} kills; lease flags: ${LEASE_FLAGS.join(" ") || `the defaults (renew ${LEASE_DEFAULT.renewMs} ms, suspect ${LEASE_DEFAULT.suspectMs} ms, dead ${LEASE_DEFAULT.deadMs} ms)`}; load average at the end: ${load}`,
        "| from the kill -9 to | median | max |",
        "| --- | --- | --- |",
        row("lease lost (detection)", (k) => k.lostMs),
        row("fence confirmed", (k) => k.fencedMs),
        row("placed", (k) => k.placedMs),
        row("started (QEMU running)", (k) => k.startedMs),
        "",
      ].join("\n"),
    );
  } catch (error) {
    process.stderr.write(`${lab.logs()}\n`);
    throw error;
  } finally {
    await lab.close();
  }
}

await main();
