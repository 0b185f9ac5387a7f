/**
 * The domain control loop on a FAKE hypervisor (FakeHypervisorDriver), a fast extra beside the
 * real end-to-end test under QEMU (src/daemon/domains-qemu.integ.test.ts): the real
 * controller and SQLite store, the real compute reconciler and console relay, and an agent pass
 * run by hand so every step is deterministic. It covers what a real boot is too slow to repeat:
 * every placement refusal, each on_* action, reboot, a shutdown that times out, an agent restart.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { consoleGuestCommands } from "../../hypervisor/fake/console-guest.js";
import { duplexPair } from "../agent/duplex-pair.js";
import {
  domainState,
  fakeDomainBench,
  HOST_MAC,
  rejectsWith,
} from "./testing/fake-domain-bench.js";

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

const bench = fakeDomainBench;
const state = domainState;

describe("domains on a fake hypervisor", () => {
  test("the seed's file: refused without its network, then runs; started twice is refused", async () => {
    const b = await bench();
    await b.volume("noc.grid", 1);
    const imported = await b.controller.domains.importFile(seed, "noc.grid.cfg");
    assert.equal(imported.domain.config, seed, "export gives the file back as written");
    assert.equal(imported.domain.disks[0]?.volumeId, "vol-noc-grid");
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

  test("a domain's volume: closed until it starts, served to its host's SAN MAC before the guest starts, closed again once it stopped", async () => {
    const b = await bench();
    await b.controller.networks.create({ hostId: b.host.id, name: "xenbr1" });
    await b.volume("noc.grid", 1);
    await b.controller.domains.importFile(seed, "noc.grid.cfg");
    await b.pass();
    assert.equal(b.servedMask(1), undefined, "a volume nobody may see is not exported");
    await b.controller.lifecycle.start("noc.grid", "admin");
    const granted = await b.store.getVolume("vol-noc-grid");
    assert.deepEqual(
      granted?.grants.map((g) => [g.hostId, g.macs]),
      [[b.host.id, [HOST_MAC]]],
      "the host's SAN interface's MAC, not its other NICs'",
    );
    assert.deepEqual(
      (await b.link.desired()).domains.map((d) => d.name),
      [],
      "the compute host does not get the domain before the target serves it the volume",
    );
    await b.pass(); // the target is told; the compute side saw no domain yet
    assert.deepEqual(b.servedMask(1), [HOST_MAC]);
    assert.deepEqual(await b.driver.list(), [], "no guest before its disk is reachable");
    assert.equal((await b.store.getVolume("vol-noc-grid"))?.appliedGeneration, granted?.generation);
    await b.settle(
      "noc.grid running",
      async () => (await b.domain("noc.grid")).observed?.state === "running",
    );
    assert.deepEqual(b.servedMask(1), [HOST_MAC]);

    // An admin opens it to everyone and closes it again; the grant stays while the guest runs.
    await b.controller.volumes.change("noc.grid", { everyone: true }, "admin");
    await b.pass();
    assert.deepEqual(b.servedMask(1), [], "an empty AoE mask list: everyone");
    await b.controller.volumes.change("noc.grid", { everyone: false }, "admin");
    await b.pass();
    assert.deepEqual(b.servedMask(1), [HOST_MAC]);

    // Stopping: the disk stays reachable while the guest shuts down, and closes once it is gone.
    await b.controller.lifecycle.shutdown("noc.grid", "admin");
    assert.equal((await b.store.getVolume("vol-noc-grid"))?.grants.length, 1);
    await b.settle(
      "noc.grid stopped",
      async () => (await b.domain("noc.grid")).observed?.state === "stopped",
    );
    await b.pass();
    assert.deepEqual((await b.store.getVolume("vol-noc-grid"))?.grants, []);
    assert.equal(b.servedMask(1), undefined, "closed again: nobody");
  });

  test("start checks memory, vCPUs, disks and access before any guest starts", async () => {
    const b = await bench();
    await b.controller.networks.create({ hostId: b.host.id, name: "xenbr1" });
    await b.volume("big", 1);
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
