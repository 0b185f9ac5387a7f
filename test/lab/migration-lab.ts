/**
 * A lab for live migration under QEMU/TCG, shared by the failure tests and bench:migrate: a
 * controller, a storage host and two qemu compute hosts (cluster-lab.ts), a volume holding a
 * guest's root filesystem, a bridge on both compute hosts and the domain imported (not started).
 * The guest's init script is the caller's; COUNTER_SCRIPT is the usual one.
 */
import { guestRunDir } from "./host-processes.js";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import type {
  DomainRecord,
  HostRecord,
  PoolRecord,
  TaskRecord,
  VolumeRecord,
} from "../../src/cluster/model.js";
import { runCli } from "./cli-process.js";
import { ClusterLab, type StorageHost } from "./cluster-lab.js";
import { buildRootFsImage, domainGuestKit } from "./domain-guest/index.js";

export const BOOT_MS_MAX = 180_000;
export const TASK_MS_MAX = 60_000;
const VOLUME_BYTES = 64 * 1024 * 1024;

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

export interface MigrationLab {
  lab: ClusterLab;
  hostA: StorageHost;
  hostB: StorageHost;
  storage: StorageHost;
  volume: VolumeRecord;
  /** The AoE device name, eS.L. */
  device: string;
  domain(): Promise<DomainRecord>;
  hostName(id: string | null): Promise<string | undefined>;
  task(id: string): Promise<TaskRecord>;
  cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Whether `host`'s SAN interface gets an answer from the volume. */
  sees(host: StorageHost): Promise<boolean>;
  /** A console session until it shows a counter above `above`; returns [count, bootId]. */
  countOnConsole(above: number): Promise<[number, string]>;
  /** QEMU's pid for the guest on `host`, or undefined when it has none. */
  qemuPid(host: StorageHost): number | undefined;
}

export async function migrationLab(options: MigrationLabOptions): Promise<MigrationLab> {
  const kit = await domainGuestKit();
  const lab = await ClusterLab.create(options.tag);
  try {
    await lab.startController(options.controllerArgs);
    const storage = await lab.storageHost("sto1");
    await lab.startAgent(storage);
    const hostA = await lab.computeHost("cmpa", "qemu");
    const hostB = await lab.computeHost("cmpb", "qemu");
    await lab.startAgent(hostA, options.agentArgs);
    await lab.startAgent(hostB, options.agentArgs);
    await lab.waitFor("both compute hosts' hypervisors", 90_000, async () => {
      const { body } = await lab.call<{ hosts: HostRecord[] }>("GET", "/api/v1/hosts");
      const ready = body.hosts.filter((h) => h.inventory?.hypervisor?.kind === "qemu");
      return ready.length === 2 ? null : `${ready.length} of 2`;
    });
    const { name } = options;
    const task = async (id: string) =>
      (await lab.call<{ task: TaskRecord }>("GET", `/api/v1/tasks/${id}`)).body.task;
    const cli = async (args: string[]) => {
      const daemon = lab.cli(args);
      const code = await daemon.wait();
      return { code, stdout: daemon.stdout, stderr: daemon.stderr };
    };

    const pool = await lab.call<{ pool: PoolRecord }>("POST", "/api/v1/pools", {
      host: "sto1",
      name: "p1",
      kind: "directory",
      path: path.join(storage.dataDir, "pool"),
    });
    assert.equal(pool.status, 201, JSON.stringify(pool.body));
    const macA = await hostA.ns.mac(hostA.aoeIf);
    const created = await lab.call<{ volume: VolumeRecord; task: TaskRecord }>(
      "POST",
      "/api/v1/volumes",
      { name: `${name}-root`, sizeBytes: VOLUME_BYTES, allow: [macA] },
    );
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const volume = created.body.volume;
    const device = `e${volume.shelf}.${volume.slot}`;
    await lab.waitFor("the volume", TASK_MS_MAX, async () => {
      const { state } = await task(created.body.task.id);
      return state === "succeeded" ? null : state;
    });
    const image = path.join(lab.dir, "root.img");
    await buildRootFsImage({
      path: image,
      sizeMiB: VOLUME_BYTES / 2 ** 20,
      initScript: options.initScript,
    });
    const write = await runCli(["aoe", "write", device, "--iface", hostA.aoeIf], {
      ns: hostA.ns,
      input: fs.readFileSync(image),
      timeoutMs: 120_000,
    });
    assert.equal(write.code, 0, write.stderr);
    assert.equal((await cli(["volume", "deny", `${name}-root`, macA])).code, 0);
    for (const host of ["cmpa", "cmpb"]) {
      const network = await cli(["network", "create", "xenbr1", "--host", host]);
      assert.equal(network.code, 0, network.stderr);
    }
    // Both hosts have the kernel and ramdisk at the same path in their own boot directory.
    const kernel = lab.bootFile(hostA, kit.kernel);
    const initrd = lab.bootFile(hostA, kit.initrd);
    lab.bootFile(hostB, kit.kernel);
    lab.bootFile(hostB, kit.initrd);
    const config = [
      `name = "${name}"`,
      `kernel = "${path.basename(kernel)}"`,
      `ramdisk = "${path.basename(initrd)}"`,
      `memory = ${options.memoryMiB}`,
      "vif = [ 'bridge=xenbr1' ]",
      `disk = [ 'phy:/dev/etherd/${device},xvda,w' ]`,
      'root = "/dev/xvda rw"',
      `extra = "console=ttyS0 ep_hostname=${name}"`,
      "on_crash = 'destroy'",
      "",
    ].join("\n");
    const imported = await lab.call("POST", "/api/v1/domains", { config });
    assert.equal(imported.status, 201, JSON.stringify(imported.body));

    return {
      lab,
      hostA,
      hostB,
      storage,
      volume,
      device,
      task,
      cli,
      domain: async () =>
        (await lab.call<{ domain: DomainRecord }>("GET", `/api/v1/domains/${name}`)).body.domain,
      hostName: async (id) => {
        const { body } = await lab.call<{ hosts: HostRecord[] }>("GET", "/api/v1/hosts");
        return body.hosts.find((h) => h.id === id)?.name;
      },
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
