/**
 * A lab for high availability under QEMU/TCG (ha-qemu.integ.test.ts): migration-lab.ts's cluster
 * (a controller, a storage host, two qemu compute hosts, a volume with the guest's root filesystem,
 * the domain imported) with HA on for the domain and a guest that appends a numbered marker
 * "BOOT N" to /markers every 100 ms, synced. Beside it, what the chaos cases share: the guest's
 * console, a sampler of where the domain runs (the API's record and both hosts' QEMU processes
 * every 150 ms, `etherplane list --json` every second), `etherplane events`, the hosts' states,
 * and the ways a host fails (power loss, partitions).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type {
  DomainRecord,
  EventRecord,
  HostRecord,
  PoolRecord,
  VolumeRecord,
} from "../../src/cluster/model.js";
import type { StorageHost } from "./cluster-lab.js";
import {
  agentDir,
  copies,
  diskBridgePids,
  guestRunDir,
  processesNaming,
  qemuPids,
  signalAll,
} from "./host-processes.js";
import { guestVolume } from "./guest-volume.js";
import { domainConfig } from "./domain-guest/domain-config.js";
import { domainGuestKit } from "./domain-guest/index.js";
import { migrationLab, type MigrationLab } from "./migration-lab.js";
import { BRIDGE } from "./qemu-cluster.js";

export const DOMAIN = "ha1";
/** The second HA domain, its volume on the second storage host (STORAGE_TWO). */
export const DOMAIN_TWO = "ha2";
export const STORAGE_TWO = "sto2";
/**
 * The compute agents' AoE request deadline for their guests' disk bridges (`--san-request-timeout-ms`):
 * shorter than the SAN-cut case's cut, so the guest sees its I/O fail; long enough that a loaded
 * machine's scheduling delays do not fail healthy requests.
 */
export const SAN_REQUEST_TIMEOUT_MS = 5000;
const AGENT_ARGS = ["--san-request-timeout-ms", String(SAN_REQUEST_TIMEOUT_MS)];
/**
 * The controller's lease timing in this lab: twice the default dead time, so a compute agent
 * self-fences after 6 s without a renewal instead of 2 s. At load 10 or more on 2 cores a renewal
 * (an HTTPS round trip between two starved processes) can take longer than 2 s, and the agent
 * then rightly destroys its guest: safe, but not what a case about another failure tests. Each
 * failover takes about 4 s longer. bench:ha measures the defaults.
 */
export const HA_LEASE = { renewMs: 1000, suspectMs: 4000, deadMs: 8000 };
const CONTROLLER_ARGS = [
  ...["--lease-renew-ms", String(HA_LEASE.renewMs)],
  ...["--lease-suspect-ms", String(HA_LEASE.suspectMs)],
  ...["--lease-dead-ms", String(HA_LEASE.deadMs)],
];
/** From a failure to the guest's markers on the other host; generous for TCG on 2 cores. */
export const FAILOVER_MS_MAX = 240_000;
const SAMPLE_MS = 150;
export const LIST_SAMPLE_MS = 1000;

/**
 * The guest's init: its boot number, then "BOOT N" appended to /markers and synced (fsync of the
 * file: busybox `sync FILE`) every 100 ms: "EP-MARK B N" once it is on the disk, "EP-IOERR B N"
 * when the append or the sync failed (the guest saw an I/O error, or its filesystem went
 * read-only after one).
 */
export const MARKER_SCRIPT = `
b=$(( $(cat /bootcount 2>/dev/null || echo 0) + 1 ))
echo "$b" > /bootcount
sync
echo "EP-BOOT $b"
(
  n=0
  while true; do
    n=$((n + 1))
    if echo "$b $n" >> /markers && sync /markers; then
      echo "EP-MARK $b $n"
    else
      echo "EP-IOERR $b $n"
    fi
    sleep 0.1
  done
) &
`;

/** The last "EP-MARK boot n" in a console log: [boot, n]. */
export function lastMark(text: string): [number, number] | undefined {
  const last = [...text.matchAll(/EP-MARK (\d+) (\d+)/g)].at(-1);
  return last?.[1] && last[2] ? [Number(last[1]), Number(last[2])] : undefined;
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return fallback;
  }
}

export interface Sample {
  atMs: number;
  hostId: string | null;
  state: string | null;
  qemu: Record<string, number>;
}

export interface Sampling {
  samples: Sample[];
  /** `list --json` rows of the domain: "host:state", joined by "+" should it be listed twice. */
  listed: string[];
  stop(): Promise<void>;
}

export interface HaLab extends MigrationLab {
  /** Host id -> name. */
  hostIds: Map<string, string>;
  /** The second storage host (STORAGE_TWO), its pool holding DOMAIN_TWO's volume. */
  storageTwo: StorageHost;
  volumeTwo: VolumeRecord;
  /** The console of domain `name` (DOMAIN by default) on `host`. */
  consoleLog(host: StorageHost, name?: string): string;
  /** Waits for boot `boot`'s markers (at least 5) on `host`'s console of `name` (DOMAIN). */
  waitForMarks(host: StorageHost, boot: number, what: string, name?: string): Promise<void>;
  /** Samples where domain `name` (DOMAIN by default) runs until stop(). */
  startSampling(name?: string): Sampling;
  /** `etherplane events --json` since `sinceMs`: a finder of one HA step, and of a start. */
  eventsSince(sinceMs: number): Promise<{
    events: EventRecord[];
    step: (pattern: RegExp, kind?: string) => EventRecord;
    started: (host: string, name?: string) => EventRecord;
  }>;
  hostState(name: string): Promise<string | undefined>;
  /** kill -9 of the host's agent, QEMUs and disk bridges, then its links down. */
  powerLoss(host: StorageHost): Promise<void>;
  /** Links up and the agent started again; waits until the controller says `up`. */
  bringBack(host: StorageHost): Promise<void>;
}

/** Asserts "one copy": never a QEMU on both hosts (or two on one), never listed twice. */
export function assertOneCopy(sampling: Sampling, sinceMs: number): void {
  assert.ok(sampling.samples.length > 10, `${sampling.samples.length} samples`);
  for (const s of sampling.samples) {
    const n = Object.values(s.qemu).reduce((a, b) => a + b, 0);
    assert.ok(n <= 1, `two copies at +${s.atMs - sinceMs} ms: ${JSON.stringify(s)}`);
  }
  for (const row of sampling.listed) assert.ok(!row.includes("+"), `listed twice: ${row}`);
}

/**
 * A second storage host with its own pool and DOMAIN_TWO on a volume there (HA on, not
 * started), so that a case can stop one storage agent while the other's domains go on.
 */
async function secondStorage(
  m: MigrationLab,
): Promise<{ storageTwo: StorageHost; volumeTwo: VolumeRecord }> {
  const { lab, hostA } = m;
  const storageTwo = await lab.storageHost(STORAGE_TWO);
  await lab.startAgent(storageTwo);
  const pool = await lab.call<{ pool: PoolRecord }>("POST", "/api/v1/pools", {
    host: STORAGE_TWO,
    name: "p2",
    kind: "directory",
    path: path.join(storageTwo.dataDir, "pool"),
  });
  assert.equal(pool.status, 201, JSON.stringify(pool.body));
  const { volume, device } = await guestVolume(
    // guestVolume needs the cluster's calls, not its domain lookup.
    { ...m, domain: () => Promise.reject(new Error("not used by guestVolume")) },
    {
      name: `${DOMAIN_TWO}-root`,
      writer: hostA,
      initScript: MARKER_SCRIPT,
      pool: { name: "p2", host: storageTwo },
    },
  );
  const kit = await domainGuestKit();
  const config = domainConfig({
    name: DOMAIN_TWO,
    kernel: path.basename(kit.kernel),
    ramdisk: path.basename(kit.initrd),
    memoryMiB: 160,
    device,
    bridge: BRIDGE,
    actions: ["on_crash = 'destroy'"],
  });
  const imported = await lab.call("POST", "/api/v1/domains", { config });
  assert.equal(imported.status, 201, JSON.stringify(imported.body));
  return { storageTwo, volumeTwo: volume };
}

export async function haLab(): Promise<HaLab> {
  const m = await migrationLab({
    tag: "ha",
    name: DOMAIN,
    memoryMiB: 160,
    initScript: MARKER_SCRIPT,
    agentArgs: AGENT_ARGS,
    controllerArgs: CONTROLLER_ARGS,
  });
  const { lab, hostA, hostB } = m;
  let two: { storageTwo: StorageHost; volumeTwo: VolumeRecord };
  try {
    // The first volume is in p1 already: the second pool, added now, cannot take it.
    two = await secondStorage(m);
    for (const name of [DOMAIN, DOMAIN_TWO]) {
      const set = await m.cli(["domain", "set", name, "--ha", "on"]);
      assert.equal(set.code, 0, set.stderr);
    }
  } catch (error) {
    await lab.close();
    throw error;
  }
  const hostIds = new Map(
    (await lab.call<{ hosts: HostRecord[] }>("GET", "/api/v1/hosts")).body.hosts.map((h) => [
      h.id,
      h.name,
    ]),
  );
  const consoleLog = (host: StorageHost, name = DOMAIN) =>
    readOr(path.join(guestRunDir(host, name), "console.log"), "");
  const agents = () =>
    [hostA, hostB].map((h) => h.agent?.child.pid).filter((p): p is number => p !== undefined);

  const domainRecord = async (name: string) =>
    (await lab.call<{ domain: DomainRecord }>("GET", `/api/v1/domains/${name}`)).body.domain;
  const startSampling = (name = DOMAIN): Sampling => {
    const guestWords = [`guest=${name},`];
    const samples: Sample[] = [];
    const listed: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const atMs = Date.now();
        const qemu = {
          cmpa: copies(processesNaming(agentDir(hostA), "qemu-system", guestWords), agents()),
          cmpb: copies(processesNaming(agentDir(hostB), "qemu-system", guestWords), agents()),
        };
        const record = await domainRecord(name).catch(() => undefined);
        samples.push({
          atMs,
          hostId: record?.hostId ?? null,
          state: record?.observed?.state ?? null,
          qemu,
        });
        await new Promise((r) => setTimeout(r, SAMPLE_MS));
      }
    })();
    const lister = (async () => {
      while (sampling) {
        const out = await m.cli(["list", "--json"]).catch(() => ({ code: 1, stdout: "" }));
        if (out.code === 0) {
          const rows = (JSON.parse(out.stdout) as { domains: DomainRecord[] }).domains.filter(
            (d) => d.name === name,
          );
          listed.push(
            rows
              .map((d) => `${hostIds.get(d.hostId ?? "") ?? "-"}:${d.observed?.state ?? "-"}`)
              .join("+"),
          );
        }
        await new Promise((r) => setTimeout(r, LIST_SAMPLE_MS));
      }
    })();
    return {
      samples,
      listed,
      stop: async () => {
        sampling = false;
        await Promise.all([sampler, lister]);
      },
    };
  };

  const hostState = async (name: string) =>
    (
      await lab.call<{ hosts: Array<HostRecord & { state?: string }> }>("GET", "/api/v1/hosts")
    ).body.hosts.find((h) => h.name === name)?.state;

  return {
    ...m,
    ...two,
    hostIds,
    consoleLog,
    startSampling,
    hostState,
    waitForMarks: (host, boot, what, name = DOMAIN) =>
      lab.waitFor(what, FAILOVER_MS_MAX, () => {
        const mark = lastMark(consoleLog(host, name));
        return mark && mark[0] === boot && mark[1] >= 5 ? null : consoleLog(host, name).slice(-300);
      }),
    eventsSince: async (sinceMs) => {
      const out = await m.cli(["events", "--json", "--limit", "1000"]);
      assert.equal(out.code, 0, out.stderr);
      const events = out.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as EventRecord)
        .filter((e) => e.timeMs >= sinceMs);
      return {
        events,
        step: (pattern, kind = "ha.step") => {
          const found = events.find((e) => e.kind === kind && pattern.test(e.message));
          assert.ok(found, `no ${kind} event matching ${pattern} in:\n${out.stdout}`);
          return found;
        },
        started: (host, name = DOMAIN) => {
          const found = events.find(
            (e) => e.kind === "domain.started" && e.subject === name && e.fields["host"] === host,
          );
          assert.ok(found, `no domain.started of ${name} on ${host} in:\n${out.stdout}`);
          return found;
        },
      };
    },
    powerLoss: async (host) => {
      const qemu = qemuPids(host);
      const bridges = diskBridgePids(host);
      const agent = host.agent?.child.pid;
      assert.ok(agent !== undefined);
      signalAll([agent, ...qemu, ...bridges], "SIGKILL");
      await host.ns.exec("ip", ["link", "set", host.aoeIf, "down"]);
      await host.ns.exec("ip", ["link", "set", "mgmt0", "down"]);
      await host.agent?.wait();
      await lab.waitFor(`${host.name}'s processes to be gone`, 30_000, () => {
        const left = [...processesNaming(agentDir(host), "qemu-system"), ...diskBridgePids(host)];
        return left.length === 0 ? null : `still running: ${left.join(",")}`;
      });
    },
    bringBack: async (host) => {
      await host.ns.exec("ip", ["link", "set", host.aoeIf, "up"]);
      await host.ns.exec("ip", ["link", "set", "mgmt0", "up"]);
      // The same flags as at its first start (the disk bridges' request deadline).
      await lab.startAgent(host, AGENT_ARGS);
      await lab.waitFor(`${host.name} up again`, 120_000, async () => {
        const state = await hostState(host.name);
        return state === "up" ? null : `${state}`;
      });
    },
  };
}
