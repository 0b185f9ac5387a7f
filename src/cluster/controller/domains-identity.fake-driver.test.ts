/**
 * Issue 10's repros on a FAKE hypervisor (testing/fake-domain-bench.ts): the spec a start
 * checked is the spec every restart runs, the desired state carries only AoE disks (and the
 * agent refuses anything else), and guests are known by uuid, not name: a guest someone started
 * by hand under a domain's name, or Domain-0, is never paused, rebooted or destroyed.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";
import { consoleGuestCommands } from "../../hypervisor/fake/console-guest.js";
import { NIL_UUID } from "../../hypervisor/guest-identity.js";
import type { DesiredDomain } from "../agent-protocol.js";
import { domainState, fakeDomainBench, rejectsWith } from "./testing/fake-domain-bench.js";

/** web's file: `memoryMiB` and its first disk as given, restarted on reboot and crash. */
const webFile = (memoryMiB: number, disk: string) => `name = "web"
memory = ${memoryMiB}
vif = [ 'bridge=xenbr1' ]
disk = [ '${disk}' ]
on_reboot = 'restart'
on_crash = 'restart'
`;
const web = webFile(256, "phy:/dev/etherd/e1.0,xvda,w");
/** Its file edited while it runs: more memory, and a local disk no agent may open. */
const edited = webFile(1024, "phy:/dev/sda,xvda,w");

async function runningWeb() {
  const b = await fakeDomainBench();
  await b.controller.networks.create({ hostId: b.host.id, name: "xenbr1" });
  await b.volume("web", 1);
  await b.controller.domains.importFile(web, "web.cfg");
  await b.controller.lifecycle.start("web", "admin");
  await b.settle("web running", async () => (await b.domain("web")).observed?.state === "running");
  return b;
}

describe("the spec that was checked is the spec that runs", () => {
  test("an edit to the host's own disk while running: reboots, crashes, a vanished guest and an agent restart run the checked spec", async () => {
    const b = await runningWeb();
    const guestSpec = () => b.fakeHost.guests.get("web")?.spec;
    const checked = { memoryMiB: 256, disks: ["xvda /dev/etherd/e1.0"] };
    const shape = () => {
      const spec = guestSpec();
      const disks = spec?.disks.map(
        (d) => `${d.vdev} ${d.source.kind === "path" ? d.source.path : d.source.socketPath}`,
      );
      return { memoryMiB: spec?.memoryMiB, disks };
    };
    assert.deepEqual(shape(), checked);

    // The repro: the file now names the host's /dev/sda (accepted: it takes effect at a start).
    await b.controller.domains.updateFile("web", edited, "web.cfg");
    const afterEdit = await b.domain("web");
    assert.match(afterEdit.config, /\/dev\/sda/);
    assert.equal(afterEdit.placed?.disks[0]?.volumeId, "vol-web", "the placed spec is unchanged");
    for (const domain of (await b.link.desired()).domains) {
      assert.doesNotMatch(domain.config, /\/dev\/sda/, "the host is sent the checked file");
      assert.deepEqual(
        domain.disks.map((d) => d.kind),
        ["aoe"],
      );
    }

    // 1. A reboot through the API (on_reboot = 'restart').
    await b.controller.lifecycle.reboot("web", "operator");
    await b.settle("rebooted", async () => (await b.domain("web")).observed?.restarts === 1);
    await b.settle("running", async () => (await b.domain("web")).observed?.state === "running");
    assert.deepEqual(shape(), checked, "after on_reboot restart");

    // 2. The guest's own crash (on_crash = 'restart').
    await b.typeOnConsole("web", consoleGuestCommands.crash);
    await b.settle("restarted", async () => {
      const seen = (await b.domain("web")).observed;
      return seen?.restarts === 2 && seen.state === "running";
    });
    assert.deepEqual(shape(), checked, "after on_crash restart");

    // 3. The guest vanishes (destroyed by hand): the agent starts it again.
    const uuid = (await b.domain("web")).uuid;
    await b.driver.destroy("web", uuid);
    await b.settle("started again", () => Promise.resolve(guestSpec() !== undefined));
    assert.deepEqual(shape(), checked, "after a vanished guest");

    // 4. A restarted agent process, guest gone meanwhile.
    await b.driver.destroy("web", uuid);
    const desired = await b.link.desired();
    await b.agentProcess().reconcile(desired.networks, desired.domains);
    assert.deepEqual(shape(), checked, "after an agent restart");
    assert.deepEqual(b.attached.includes("web"), true);

    // The edit takes effect at the next start only, after the start's checks: refused here.
    await b.controller.lifecycle.destroy("web", "operator");
    await b.settle("stopped", async () => domainState(await b.domain("web")) === "stopped/stopped");
    await rejectsWith(
      b.controller.lifecycle.start("web", "operator"),
      "CONFLICT",
      /xvda: \/dev\/sda is not an etherplane volume/,
    );
    await b.pass();
    assert.equal(guestSpec(), undefined, "nothing started");
  });

  test("an edit that passes the checks runs from the next start", async () => {
    const b = await runningWeb();
    await b.controller.domains.updateFile("web", web.replace("memory = 256", "memory = 512"), "w");
    await b.controller.lifecycle.reboot("web", "operator");
    await b.settle("rebooted", async () => (await b.domain("web")).observed?.restarts === 1);
    assert.equal(b.fakeHost.guests.get("web")?.spec.memoryMiB, 256, "a restart is no start");
    await b.controller.lifecycle.destroy("web", "operator");
    await b.settle("stopped", async () => domainState(await b.domain("web")) === "stopped/stopped");
    await b.controller.lifecycle.start("web", "operator");
    await b.settle("running", async () => (await b.domain("web")).observed?.state === "running");
    assert.equal(b.fakeHost.guests.get("web")?.spec.memoryMiB, 512);
    assert.equal((await b.domain("web")).placed?.memoryMiB, 512);
  });

  test("an agent refuses a desired disk that is not an AoE volume, and says why", async () => {
    const b = await runningWeb();
    const [desired] = (await b.link.desired()).domains;
    assert.ok(desired);
    const hostile = {
      ...desired,
      id: "dom-hostile",
      name: "hostile",
      uuid: randomUUID(),
      vifs: [],
      disks: [{ vdev: "xvda", readOnly: false, kind: "path", path: "/dev/sda" }],
    } as unknown as DesiredDomain;
    const result = await b.reconciler.reconcile([], [hostile]);
    assert.equal(b.fakeHost.guests.get("hostile"), undefined, "no guest");
    assert.ok(!b.attached.includes("hostile"), "no disk attached");
    const seen = result.domains[0];
    assert.equal(seen?.state, "stopped");
    assert.match(seen?.error ?? "", /disk xvda is kind "path" \("\/dev\/sda"\), not an AoE volume/);
  });
});

describe("guests are identified by uuid", () => {
  test("a guest started by hand under a domain's name is neither started over, paused nor destroyed", async () => {
    const b = await fakeDomainBench();
    await b.controller.networks.create({ hostId: b.host.id, name: "xenbr1" });
    await b.controller.domains.importFile(`name = "db"\nmemory = 128\n`, "db.cfg");
    // An administrator's own guest, same name, its own uuid.
    const foreignUuid = randomUUID();
    await b.driver.create({
      ...{ name: "db", uuid: foreignUuid, memoryMiB: 300, vcpus: 1 },
      ...{ boot: { kind: "firmware" }, disks: [], vifs: [] },
    });
    const foreign = () => b.fakeHost.guests.get("db");
    const foreignDomid = foreign()?.domid;
    const { task } = await b.controller.lifecycle.start("db", "operator");
    await b.settle("the start failed", async () => {
      const t = await b.store.getTask(task.id);
      return t?.state === "failed";
    });
    assert.match(
      (await b.store.getTask(task.id))?.error?.message ?? "",
      /a guest named db .* that this cluster did not start runs on this host; it is left alone/,
    );
    assert.equal(foreign()?.spec.uuid, foreignUuid, "the hand-made guest is untouched");
    assert.equal(foreign()?.domid, foreignDomid);
    const db = await b.domain("db");
    assert.equal(db.observed?.state, "stopped", "the domain does not report it as its own");
    assert.equal(db.observed?.domid, null);
    const host = await b.store.getHost(b.host.id);
    assert.deepEqual(
      host?.inventory?.hypervisor?.otherGuests.map((g) => [g.name, g.memoryMiB]),
      [["db", 300]],
      "it counts as other memory use",
    );
  });

  test("a domain's guest replaced by hand: pause and destroy leave the stranger alone", async () => {
    const b = await fakeDomainBench();
    await b.controller.domains.importFile(`name = "db"\nmemory = 128\n`, "db.cfg");
    await b.controller.lifecycle.start("db", "operator");
    await b.settle("running", async () => (await b.domain("db")).observed?.state === "running");
    // Between two agent passes, someone swaps the guest for their own of the same name.
    await b.driver.destroy("db");
    const foreignUuid = randomUUID();
    await b.driver.create({
      ...{ name: "db", uuid: foreignUuid, memoryMiB: 64, vcpus: 1 },
      ...{ boot: { kind: "firmware" }, disks: [], vifs: [] },
    });
    const stranger = () => b.fakeHost.guests.get("db");
    for (let i = 0; i < 1000 && stranger()?.phase !== "running"; i++)
      await new Promise((r) => setTimeout(r, 5));
    assert.equal(stranger()?.phase, "running", "the stranger booted");
    await b.controller.lifecycle.pause("db", "operator");
    await b.pass();
    await b.pass();
    assert.equal(stranger()?.spec.uuid, foreignUuid);
    assert.equal(stranger()?.phase, "running", "not paused");
    const db = await b.domain("db");
    assert.match(db.observed?.error ?? "", /did not start/);
    assert.notEqual(db.observed?.state, "paused");
    const destroyed = await b.controller.lifecycle.destroy("db", "operator");
    await b.settle(
      "destroyed",
      async () => domainState(await b.domain("db")) === "stopped/stopped",
    );
    assert.equal((await b.store.getTask(destroyed.task.id))?.state, "succeeded");
    assert.equal(stranger()?.spec.uuid, foreignUuid, "not destroyed");
    assert.equal(stranger()?.phase, "running");
  });

  test("Domain-0 is never touched and counts as other memory use", async () => {
    const b = await fakeDomainBench({ dom0MemoryMiB: 1024 });
    await b.pass();
    const host = await b.store.getHost(b.host.id);
    assert.deepEqual(host?.inventory?.hypervisor?.otherGuests, [
      { name: "Domain-0", domid: 0, memoryMiB: 1024, vcpus: 2 },
    ]);
    // Whatever a controller says about a domain of that name (its nil uuid included).
    const dom0Domain = (desiredState: DesiredDomain["desiredState"]): DesiredDomain => ({
      ...{ id: "dom-0", name: "Domain-0", uuid: NIL_UUID, config: "", memoryMiB: 64, vcpus: 1 },
      ...{ boot: { kind: "firmware" }, disks: [], vifs: [], desiredState, stopMode: "destroy" },
      ...{ onPoweroff: "destroy", onReboot: "restart", onCrash: "restart", allowedUnsafe: [] },
      ...{ shutdownTimeoutS: 0, rebootSeq: 5, generation: 3, ha: true },
    });
    for (const wanted of ["paused", "stopped", "running"] as const) {
      const result = await b.reconciler.reconcile([], [dom0Domain(wanted)]);
      const dom0 = b.fakeHost.guests.get("Domain-0");
      assert.equal(dom0?.phase, "running", `${wanted}: Domain-0 runs on`);
      assert.equal(dom0.domid, 0);
      assert.equal(result.domains[0]?.domid, null, `${wanted}: not reported as the domain's`);
      assert.deepEqual(
        result.hypervisor?.otherGuests.map((g) => g.name),
        ["Domain-0"],
      );
    }
  });
});
