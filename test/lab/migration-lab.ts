/**
 * A lab for live migration under QEMU/TCG, shared by the migration, failure and HA tests and
 * bench:migrate: the cluster of qemu-cluster.ts with two compute hosts (cmpa, cmpb), a volume
 * holding a guest's root filesystem (guest-volume.ts, written from cmpa), a bridge on both
 * compute hosts and the domain imported (not started).
 * The guest's init script is the caller's; COUNTER_SCRIPT is the usual one.
 */
import { guestRunDir } from "./host-processes.js";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type { DomainRecord, VolumeRecord } from "../../src/cluster/model.js";
import { runCli } from "./cli-process.js";
import type { StorageHost } from "./cluster-lab.js";
import { domainConfig } from "./domain-guest/domain-config.js";
import { domainGuestKit } from "./domain-guest/index.js";
import { guestVolume } from "./guest-volume.js";
import { BRIDGE, qemuCluster, type QemuCluster } from "./qemu-cluster.js";

export const BOOT_MS_MAX = 180_000;

/** The guest's init: its boot id, then a counter on the console and in /counter every 100 ms. */
export const COUNTER_SCRIPT = `
b=$(cat /proc/sys/kernel/random/boot_id)
echo "EP-BOOTID $b"
(
  n=0
  while true; do
    n=$((n + 1))
    echo "$n" >> /counter
    echo "EP-COUNT $n $b"
    if [ $((n % 10)) = 0 ]; then sync; fi
    sleep 0.1
  done
) &
`;

/** The last "EP-COUNT n bootid" on a console: [n, bootid]. */
export function lastCount(text: string): [number, string] | undefined {
  const matches = [...text.matchAll(/EP-COUNT (\d+) ([0-9a-f-]{36})/g)];
  const last = matches.at(-1);
  return last?.[1] && last[2] ? [Number(last[1]), last[2]] : undefined;
}

export interface MigrationLabOptions {
  tag: string;
  name: string;
  memoryMiB: number;
  initScript: string;
  /** Flags for both compute hosts' agents (e.g. `--migration-mibps 1`). */
  agentArgs?: readonly string[];
  /** More controller flags (e.g. long leases, so that HA leaves a restarted agent's host be). */
  controllerArgs?: string[];
}

export interface MigrationLab extends Omit<QemuCluster, "domain"> {
  hostA: StorageHost;
  hostB: StorageHost;
  volume: VolumeRecord;
  /** The AoE device name, eS.L. */
  device: string;
  /** The volume's file on the storage host. */
  volumeFile: string;
  domain: () => Promise<DomainRecord>;
  /** Whether `host`'s SAN interface gets an answer from the volume. */
  sees: (host: StorageHost) => Promise<boolean>;
  /** A console session until it shows a counter above `above`; returns [count, bootId]. */
  countOnConsole: (above: number) => Promise<[number, string]>;
  /** QEMU's pid for the guest on `host`, or undefined when it has none. */
  qemuPid: (host: StorageHost) => number | undefined;
}

export async function migrationLab(options: MigrationLabOptions): Promise<MigrationLab> {
  const kit = await domainGuestKit();
  const cluster = await qemuCluster({
    tag: options.tag,
    computeHosts: ["cmpa", "cmpb"],
    ...(options.agentArgs ? { agentArgs: options.agentArgs } : {}),
    ...(options.controllerArgs ? { controllerArgs: options.controllerArgs } : {}),
  });
  const { lab } = cluster;
  try {
    const [hostA, hostB] = cluster.computes;
    assert.ok(hostA && hostB);
    const { name } = options;
    const { volume, device, file } = await guestVolume(cluster, {
      name: `${name}-root`,
      writer: hostA,
      initScript: options.initScript,
    });
    await cluster.createNetworks(["cmpa", "cmpb"]);
    // Both hosts have the kernel and ramdisk at the same path in their own boot directory.
    const kernel = lab.bootFile(hostA, kit.kernel);
    const initrd = lab.bootFile(hostA, kit.initrd);
    lab.bootFile(hostB, kit.kernel);
    lab.bootFile(hostB, kit.initrd);
    // Boot files resolve inside each agent's own --boot-dir: name them relative to it.
    const config = domainConfig({
      name,
      kernel: path.basename(kernel),
      ramdisk: path.basename(initrd),
      memoryMiB: options.memoryMiB,
      device,
      bridge: BRIDGE,
      actions: ["on_crash = 'destroy'"],
    });
    const imported = await lab.call("POST", "/api/v1/domains", { config });
    assert.equal(imported.status, 201, JSON.stringify(imported.body));

    return {
      ...cluster,
      hostA,
      hostB,
      volume,
      device,
      volumeFile: file,
      domain: () => cluster.domain(name),
      sees: async (host) => {
        const found = await runCli(
          ["aoe", "discover", "--iface", host.aoeIf, "--timeout", "1500"],
          { ns: host.ns, timeoutMs: 30_000 },
        );
        return new RegExp(`\\b${device.replace(".", "\\.")}\\b`).test(found.stdout);
      },
      countOnConsole: async (above) => {
        const session = lab.cli(["console", name]);
        let seen: [number, string] | undefined;
        await lab.waitFor(`a counter above ${above} on the console`, BOOT_MS_MAX, () => {
          seen = lastCount(session.stdout);
          return seen && seen[0] > above ? null : session.stdout.slice(-300);
        });
        session.child.stdin?.write(Buffer.from([0x1d]));
        assert.equal(await session.wait(), 0, session.stderr);
        assert.ok(seen);
        return seen;
      },
      qemuPid: (host) => {
        // The QEMU whose command line names this run directory's pid file (as run-dir.ts checks).
        const pidFile = path.join(guestRunDir(host, name), "qemu.pid");
        for (const entry of fs.readdirSync("/proc")) {
          if (!/^\d+$/.test(entry)) continue;
          try {
            const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
            if (cmdline.includes(pidFile) && state !== "Z" && state !== "X") return Number(entry);
          } catch {
            // gone meanwhile
          }
        }
        return undefined;
      },
    };
  } catch (error) {
    await lab.close();
    throw error;
  }
}
