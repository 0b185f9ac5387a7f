/**
 * The domain control loop on a FAKE hypervisor (FakeHypervisorDriver), a fast extra beside the
 * real end-to-end test under QEMU (src/cluster/runtime/domains-qemu.integ.test.ts): the real
 * controller and SQLite store, the real compute reconciler and console relay, and an agent pass
 * run by hand so every step is deterministic. It covers what a real boot is too slow to repeat:
 * every placement refusal, each on_* action, reboot, a shutdown that times out, an agent restart.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import { isEtherplaneError, type ErrorCode } from "../../foundation/errors.js";
import { createLogger } from "../../foundation/log.js";
import { FakeHost, FakeHypervisorDriver } from "../../hypervisor/fake/fake-driver.js";
import { consoleGuestCommands } from "../../hypervisor/fake/console-guest.js";
import { ComputeReconciler } from "../agent/compute/compute-reconciler.js";
import { ComputeState } from "../agent/compute/compute-state.js";
import { ConsoleRelay } from "../agent/compute/console-relay.js";
import type { GuestDiskAttacher } from "../agent/compute/guest-disks.js";
import { InProcessLink } from "../agent/controller-link.js";
import { duplexPair } from "../agent/duplex-pair.js";
import type { DesiredNetwork } from "../agent-protocol.js";
import type { DomainRecord, HostRecord, VolumeRecord } from "../model.js";
import { IN_MEMORY } from "../store/sqlite/open-database.js";
import { openSqliteStore } from "../store/sqlite/sqlite-store.js";
import { Controller } from "./controller.js";

const log = createLogger("test:domains");
const HOST_MAC = "52:54:00:00:00:01";

const seed = `name = "noc.grid"
kernel = "/boot/vmlinuz-2.6.16-2-xen-vserver-686"
ramdisk = "/boot/initrd.img-2.6.16-2-xen-vserver-686"
memory = 256
vif = [ 'mac=00:16:3E:00:00:13, bridge=xenbr1' ]
disk = [ 'phy:/dev/xenimages/noc.grid,sda1,w' ]
root = "/dev/sda1 ro"
extra = "2"
on_poweroff = 'destroy'
on_reboot    = 'restart'
on_crash     = 'restart'
`;

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, message: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isEtherplaneError(error, code), `expected ${code}, got ${String(error)}`);
    assert.match(error.message, message);
    return true;
  });
}

/** A controller and one compute host whose agent passes are run by the test. */
async function bench() {
  const store = await openSqliteStore(IN_MEMORY);
  const controller = new Controller(store);
  const host: HostRecord = await controller.agents.registerHost({
    name: "h1",
    roles: ["compute", "storage"],
    exportInterfaces: [],
  });
  await store.createPool({
    ...{ id: "pool-1", name: "p", hostId: host.id, kind: "directory", path: "/srv/p" },
    ...{ devices: [], capacityBytes: null, freeBytes: null, createdMs: 1 },
  });
  const volume = async (name: string, shelf: number, overrides: Partial<VolumeRecord> = {}) => {
    const record: VolumeRecord = {
      ...{ id: `vol-${name}`, name, kind: "volume", poolId: "pool-1", hostId: host.id },
      ...{ sizeBytes: 2 ** 30, allocatedBytes: 0, sourceId: null, shelf, slot: 0 },
      ...{ exported: true, allow: [], state: "ready", error: null, generation: 1 },
      ...{ createdMs: 1, updatedMs: 1 },
      ...overrides,
    };
    await store.createVolume(record);
    return record;
  };
  const fakeHost = new FakeHost({ bridges: ["xenbr1"], totalMemoryMiB: 4096, cpus: 2 });
  const driver = new FakeHypervisorDriver({ host: fakeHost });
  const attached: string[] = [];
  const disks: GuestDiskAttacher = {
    attach: (domainName, disk) => {
      attached.push(domainName);
      if (disk.kind !== "aoe") return Promise.resolve({ kind: "path", path: disk.path });
      return Promise.resolve({ kind: "path", path: `/dev/etherd/e${disk.shelf}.${disk.slot}` });
    },
    detach: (domainName) => {
      const at = attached.indexOf(domainName);
      if (at !== -1) attached.splice(at, 1);
    },
  };
  const networkErrors = new Map<string, string>();
  const applyNetwork = (network: DesiredNetwork) => {
    const error = networkErrors.get(network.name);
    return error ? Promise.reject(new Error(error)) : Promise.resolve();
  };
  const stateFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ep-fake-")), "state.json");
  /** An agent process: a driver on the (same) fake host, its state from the (same) file. */
  const agentProcess = () =>
    new ComputeReconciler(
      new FakeHypervisorDriver({ host: fakeHost }),
      disks,
      applyNetwork,
      new ComputeState(stateFile),
      log,
    );
  const reconciler = agentProcess();
  const link = new InProcessLink(controller.agents, host.id, controller.consoles);
  const relay = new ConsoleRelay(driver, (id) => link.openConsole(id), log);
  /** One agent pass: desired state in, driver calls, report out. */
  const pass = async () => {
    const desired = await link.desired();
    const result = await reconciler.reconcile(desired.networks, desired.domains);
    relay.handle(desired.consoles);
    await link.report({
      inventory: {
        hostname: "h1",
        agentVersion: "test",
        interfaces: [{ ifname: "eth0", mac: HOST_MAC, mtu: 1500, up: true }],
        ...(result.hypervisor ? { hypervisor: result.hypervisor } : {}),
      },
      pools: [],
      volumes: [],
      foreignTargets: [],
      domains: result.domains,
      networks: result.networks,
    });
  };
  /** Passes until `done` holds (the fake's boots and stops take a few ms). */
  const settle = async (what: string, done: () => Promise<boolean>) => {
    for (let i = 0; i < 100; i++) {
      await pass();
      if (await done()) return;
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.fail(`${what} did not happen`);
  };
  const domain = (name: string) => controller.domains.get(name);
  const typeOnConsole = async (name: string, line: string) => {
    const session = await driver.console(name);
    session.stream.write(`${line}\n`);
    await session.close();
  };
  await pass(); // the host reports its hypervisor
  return {
    ...{ store, controller, host, driver, fakeHost, volume, pass, settle, domain, attached },
    ...{ typeOnConsole, networkErrors, link, reconciler, agentProcess },
  };
}

function state(d: DomainRecord): string {
  return `${d.desiredState}/${d.observed?.state ?? "-"}`;
}

describe("domains on a fake hypervisor", () => {
  test("the seed's file: refused without its network, then runs; started twice is refused", async () => {
    const b = await bench();
    await b.volume("noc.grid", 1);
    const imported = await b.controller.domains.importFile(seed, "noc.grid.cfg");
    assert.equal(imported.domain.config, seed, "export gives the file back as written");
    assert.equal(imported.domain.disks[0]?.volumeId, "vol-noc.grid");
    await rejectsWith(
      b.controller.lifecycle.start("noc.grid", "admin"),
      "CONFLICT",
      /no network with bridge xenbr1; create one: etherplane network create xenbr1 --host h1/,
    );
    assert.equal((await b.domain("noc.grid")).desiredState, "stopped", "a refusal changes nothing");
    await b.controller.networks.create({ hostId: b.host.id, name: "xenbr1" });
    const { task } = await b.controller.lifecycle.start("noc.grid", "admin");
    await b.settle(
      "noc.grid running",
      async () => (await b.domain("noc.grid")).observed?.state === "running",
    );
    assert.equal((await b.store.getTask(task.id))?.state, "succeeded");
    const guest = (await b.driver.list()).find((g) => g.name === "noc.grid");
    assert.equal(guest?.memoryMiB, 256);
    await rejectsWith(
      b.controller.lifecycle.start("noc.grid", "admin"),
      "CONFLICT",
      /noc\.grid is already running on h1 \(id \d+\)/,
    );
    // A running domain's disk cannot be deleted, even with --force.
    await rejectsWith(
      b.controller.volumes.remove("noc.grid", true, "admin"),
      "CONFLICT",
      /disk of running domain noc\.grid/,
    );
  });

  test("start checks memory, vCPUs, disks and access before any guest starts", async () => {
    const b = await bench();
    await b.controller.networks.create({ hostId: b.host.id, name: "xenbr1" });
    await b.volume("big", 1);
    await b.volume("locked", 2, { allow: ["00:16:3e:99:99:99"] });
    await b.volume("hidden", 3, { exported: false });
    const file = (name: string, lines: string) => `name = "${name}"\n${lines}\n`;
    const cases: Array<[string, string, RegExp]> = [
      ["mem", "memory = 8192", /wants 8192 MiB but host h1 has 4096 MiB free/],
      ["cpus", "vcpus = 8", /wants 8 vCPUs but host h1 has 2 CPUs/],
      [
        "nodisk",
        "disk = [ 'phy:/dev/vg0/missing,xvda,w' ]",
        /xvda: \/dev\/vg0\/missing is not an etherplane volume/,
      ],
      [
        "locked",
        "disk = [ 'phy:/dev/etherd/e2.0,xvda,w' ]",
        /volume locked \(disk xvda\) does not allow host h1/,
      ],
      [
        "hidden",
        "disk = [ 'phy:/dev/etherd/e3.0,xvda,w' ]",
        /volume hidden is not exported: etherplane volume export hidden/,
      ],
    ];
    for (const [name, lines, message] of cases) {
      await b.controller.domains.importFile(file(name, lines), name);
      await rejectsWith(b.controller.lifecycle.start(name, "admin"), "CONFLICT", message);
    }
    await b.pass();
    assert.deepEqual(await b.driver.list(), [], "no guest was started");
    // Two domains cannot both write one volume.
    await b.controller.domains.importFile(
      file("one", "disk = [ 'phy:/dev/etherd/e1.0,xvda,w' ]"),
      "one",
    );
    await b.controller.domains.importFile(
      file("two", "disk = [ 'phy:/dev/etherd/e1.0,xvda,w' ]"),
      "two",
    );
    await b.controller.lifecycle.start("one", "admin");
    await rejectsWith(
      b.controller.lifecycle.start("two", "admin"),
      "CONFLICT",
      /volume big is in use \(writable\) by domain one/,
    );
  });

  test("on_poweroff destroy, on_crash restart, on_reboot preserve; reboot and pause", async () => {
    const b = await bench();
    await b.controller.networks.create({ hostId: b.host.id, name: "xenbr1" });
    await b.controller.domains.importFile(
      `name = "web"\nvif = [ 'bridge=xenbr1' ]\non_poweroff = 'destroy'\non_reboot = 'preserve'\non_crash = 'restart'\n`,
      "web.cfg",
    );
    await b.controller.lifecycle.start("web", "admin");
    await b.settle(
      "web running",
      async () => (await b.domain("web")).observed?.state === "running",
    );
    const firstDomid = (await b.domain("web")).observed?.domid;

    await b.typeOnConsole("web", consoleGuestCommands.crash);
    await b.settle("a restart after the crash", async () => {
      const seen = (await b.domain("web")).observed;
      return seen?.state === "running" && seen.restarts === 1;
    });
    const afterCrash = await b.domain("web");
    assert.deepEqual(afterCrash.observed?.lastExit?.reason, "crash");
    assert.equal(afterCrash.observed?.lastExit?.action, "restart");
    assert.notEqual(afterCrash.observed?.domid, firstDomid, "a restarted guest is a new domain");
    assert.equal(afterCrash.desiredState, "running");

    await b.controller.lifecycle.pause("web", "admin");
    await b.settle("paused", async () => (await b.domain("web")).observed?.flags === "--p---");
    await b.controller.lifecycle.unpause("web", "admin");
    await b.settle("unpaused", async () => (await b.domain("web")).observed?.state === "running");

    // on_reboot = 'preserve': the guest's own reboot leaves it stopped and kept, until destroy.
    await b.typeOnConsole("web", consoleGuestCommands.reboot);
    await b.settle("preserved", async () => (await b.domain("web")).observed?.state === "shutdown");
    const kept = await b.domain("web");
    assert.equal(kept.observed?.flags, "---s--");
    assert.equal(kept.observed?.lastExit?.action, "preserve");
    await b.pass();
    assert.equal((await b.driver.list()).length, 1, "a preserved guest stays");
    await rejectsWith(
      b.controller.lifecycle.start("web", "admin"),
      "CONFLICT",
      /kept shut down \(preserve\): look at it, then etherplane destroy web/,
    );
    const destroyed = await b.controller.lifecycle.destroy("web", "admin");
    await b.settle("destroyed", async () => (await b.domain("web")).observed?.state === "stopped");
    assert.equal((await b.store.getTask(destroyed.task.id))?.state, "succeeded");
    assert.deepEqual(b.fakeHost.residue(), []);

    // on_poweroff = 'destroy': the domain stays stopped, and its desired state says so.
    await b.controller.lifecycle.start("web", "admin");
    await b.settle(
      "web running again",
      async () => (await b.domain("web")).observed?.state === "running",
    );
    await b.typeOnConsole("web", consoleGuestCommands.poweroff);
    await b.settle(
      "stopped by policy",
      async () => state(await b.domain("web")) === "stopped/stopped",
    );
    assert.equal((await b.domain("web")).observed?.lastExit?.reason, "poweroff");
    assert.deepEqual(await b.driver.list(), []);
    assert.deepEqual(b.attached, [], "its disks were released");
  });

  test("reboot through the API; a shutdown that times out is a destroy", async () => {
    const b = await bench();
    await b.controller.domains.importFile(`name = "db"\nmemory = 512\n`, "db.cfg");
    await b.controller.lifecycle.start("db", "admin");
    await b.settle("db running", async () => (await b.domain("db")).observed?.state === "running");
    const reboot = await b.controller.lifecycle.reboot("db", "admin");
    await b.settle("rebooted", async () => {
      const seen = (await b.domain("db")).observed;
      return seen?.restarts === 1 && seen.state === "running";
    });
    assert.equal((await b.store.getTask(reboot.task.id))?.state, "succeeded");
    assert.equal((await b.domain("db")).observed?.lastExit?.reason, "reboot");

    // A paused fake guest does not act on the power button: the timeout (0 s) destroys it.
    await b.controller.lifecycle.pause("db", "admin");
    await b.settle("paused", async () => (await b.domain("db")).observed?.state === "paused");
    const shutdown = await b.controller.lifecycle.shutdown("db", "admin", { timeoutS: 0 });
    await b.settle("stopped", async () => (await b.domain("db")).observed?.state === "stopped");
    assert.equal((await b.store.getTask(shutdown.task.id))?.state, "succeeded");
    await rejectsWith(
      b.controller.lifecycle.shutdown("db", "admin"),
      "CONFLICT",
      /db is not running/,
    );
    await rejectsWith(
      b.controller.lifecycle.shutdown("db", "admin", { timeoutS: -1 }),
      "INVALID_ARGUMENT",
      /timeout/,
    );
  });

  test("the console through the controller: history, then input and output", async () => {
    const b = await bench();
    await b.controller.domains.importFile(`name = "con"\n`, "con.cfg");
    await b.controller.lifecycle.start("con", "admin");
    await b.settle("running", async () => (await b.domain("con")).observed?.state === "running");
    const [client, controllerSide] = duplexPair();
    let seen = "";
    client.on("data", (chunk: Buffer) => (seen += chunk.toString("latin1")));
    b.controller.consoles.open(b.host.id, "con", controllerSide, "tok-test");
    await b.pass(); // the agent sees the session and connects back
    const deadline = Date.now() + 5000;
    while (!/EP-GUEST READY con/.test(seen) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    assert.match(seen, /EP-GUEST READY con/, "the history holds the boot");
    client.write("echo token-4711\n");
    while (!/\r\ntoken-4711\r\n/.test(seen) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    assert.match(seen, /\r\ntoken-4711\r\n/);
    client.end();
  });

  test("network errors are reported; a restarted agent does not revive a guest stopped by policy", async () => {
    const b = await bench();
    b.networkErrors.set("dmz", "the kernel has no 802.1q support");
    const dmz = await b.controller.networks.create({
      hostId: b.host.id,
      name: "dmz",
      uplink: "eth1",
      vlanId: 10,
    });
    await b.pass();
    assert.match((await b.store.getNetwork(dmz.id))?.error ?? "", /802\.1q/);
    await rejectsWith(
      b.controller.networks.create({ hostId: b.host.id, name: "bad", vlanId: 5 }),
      "INVALID_ARGUMENT",
      /uplink/,
    );

    await b.controller.domains.importFile(`name = "once"\n`, "once.cfg");
    await b.controller.lifecycle.start("once", "admin");
    await b.settle("running", async () => (await b.domain("once")).observed?.state === "running");
    await b.typeOnConsole("once", consoleGuestCommands.poweroff);
    await new Promise((r) => setTimeout(r, 50)); // the fake guest powers off
    // The agent applies on_poweroff = 'destroy' and dies before it can tell the controller.
    const stale = await b.link.desired();
    assert.equal(stale.domains[0]?.desiredState, "running");
    await b.reconciler.reconcile(stale.networks, stale.domains);
    assert.deepEqual(await b.driver.list(), []);
    // Restarted, with the same stale desired state, it does not start the guest again.
    const restarted = b.agentProcess();
    const result = await restarted.reconcile(stale.networks, stale.domains);
    assert.deepEqual(await b.driver.list(), []);
    assert.equal(result.domains[0]?.state, "stopped");
    assert.equal(result.domains[0]?.lastExit?.action, "destroy");
    // Its report reaches the controller, which stops the domain for good.
    await b.pass();
    assert.equal(state(await b.domain("once")), "stopped/stopped");
  });
});
