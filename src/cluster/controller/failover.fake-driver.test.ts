/**
 * High availability on FAKE hypervisors (FakeHypervisorDriver) and a FAKE AoE target that records
 * the configs it is given, beside the real controller, SQLite store, storage reconciler, compute
 * reconcilers and agents (Agent.once, run by hand). The controller's clock is the test's: leases
 * expire when the test says. What it checks is the order: fence requested, confirmed by the
 * storage agent, only then the domain placed elsewhere; a storage agent that does not confirm
 * holds the restart; a returning host destroys its stale guest and runs nothing twice.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import { createLogger } from "../../foundation/log.js";
import { FakeHost, FakeHypervisorDriver } from "../../hypervisor/fake/fake-driver.js";
import { Agent } from "../agent/agent.js";
import { ComputeReconciler } from "../agent/compute/compute-reconciler.js";
import { ComputeState } from "../agent/compute/compute-state.js";
import { ConsoleRelay } from "../agent/compute/console-relay.js";
import { InProcessLink, type ControllerLink } from "../agent/controller-link.js";
import type { HostRole } from "../model.js";
import { IN_MEMORY } from "../store/sqlite/open-database.js";
import { openSqliteStore } from "../store/sqlite/sqlite-store.js";
import { createApi } from "../../api/app.js";
import type { DomainRecord } from "../model.js";
import { volumeRecord } from "../testing/records.js";
import { Controller } from "./controller.js";
import { fakeStorage } from "./testing/fake-storage.js";

const log = createLogger("test:ha");

const domainFile = `name = "web"
kernel = "/boot/vmlinuz"
memory = 256
vif = [ 'mac=00:16:3E:00:00:21, bridge=xenbr1' ]
disk = [ 'phy:/dev/xenimages/web,xvda,w' ]
on_poweroff = 'destroy'
on_reboot = 'restart'
on_crash = 'restart'
`;

async function haBench() {
  let nowMs = 1_700_000_000_000;
  const store = await openSqliteStore(IN_MEMORY);
  // `let`: restartController() replaces it (a new process's memory on the same store).
  let controller = new Controller(store, () => nowMs);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ep-ha-"));

  /** One host's agent: a storage reconciler on a FAKE target, a FAKE hypervisor if compute. */
  const host = async (name: string, roles: HostRole[], mac: string) => {
    const record = await controller.agents.registerHost({
      name,
      roles,
      exportInterfaces: roles.includes("storage") ? ["san0"] : [],
    });
    const storage = fakeStorage(path.join(dir, name, "aoe"), log);
    // Always to the controller of the moment, as an agent's HTTP link would be after a restart.
    const now = () => new InProcessLink(controller.agents, record.id, controller.consoles);
    const link: ControllerLink = {
      desired: () => now().desired(),
      desiredAfter: (after, waitMs) => now().desiredAfter(after, waitMs),
      renewLease: () => now().renewLease(),
      report: (status) => now().report(status),
      openConsole: (id) => now().openConsole(id),
      openMigration: (id) => now().openMigration(id),
    };
    const fakeHost = new FakeHost({ bridges: ["xenbr1"], totalMemoryMiB: 4096, cpus: 2 });
    const driver = new FakeHypervisorDriver({ host: fakeHost });
    const compute = roles.includes("compute")
      ? {
          reconciler: new ComputeReconciler(
            driver,
            {
              attach: (_d, disk) =>
                Promise.resolve({
                  kind: "path" as const,
                  path: `/dev/etherd/e${disk.shelf}.${disk.slot}`,
                }),
              detach: () => undefined,
            },
            () => Promise.resolve(),
            new ComputeState(path.join(dir, name, "state.json")),
            log,
          ),
          consoles: new ConsoleRelay(driver, (id) => link.openConsole(id), log),
        }
      : undefined;
    fs.mkdirSync(path.join(dir, name), { recursive: true });
    const agent = new Agent(
      link,
      storage.reconciler,
      log,
      500,
      () => ({
        hostname: name,
        agentVersion: "test",
        interfaces: [{ ifname: "san0", mac, mtu: 1500, up: true }],
        sanInterfaces: ["san0"],
      }),
      undefined,
      compute,
    );
    let alive = true;
    return {
      record,
      driver,
      link,
      servedMask: storage.servedMask,
      /** A renewal and a pass, as the agent's loops would make them (nothing once killed). */
      pass: async () => {
        if (!alive) return;
        const grant = await link.renewLease();
        await agent.once({ fresh: true });
        return grant;
      },
      kill: () => {
        alive = false;
      },
      revive: () => {
        alive = true;
      },
      guests: async () => (await driver.list()).map((g) => g.name),
    };
  };

  const s1 = await host("s1", ["storage"], "52:54:00:00:00:10");
  const c1 = await host("c1", ["compute"], "52:54:00:00:00:11");
  const c2 = await host("c2", ["compute"], "52:54:00:00:00:12");
  const hosts = [s1, c1, c2];
  const pool = await controller.createPool({
    host: "s1",
    name: "p",
    kind: "directory",
    path: path.join(dir, "pool"),
  });
  await controller.store.createVolume(
    volumeRecord({ id: "vol-web", name: "web", poolId: pool.id, hostId: s1.record.id, shelf: 7 }),
  );
  for (const h of [c1, c2])
    await controller.networks.create({ hostId: h.record.id, name: "xenbr1" });

  /** Every live host's pass, the time moving `stepMs`, and an HA sweep, `rounds` times. */
  const run = async (rounds: number, stepMs = 250, who = hosts) => {
    for (let i = 0; i < rounds; i++) {
      for (const h of who) await h.pass();
      nowMs += stepMs;
      await controller.ha.sweep();
      // The fake guests boot and stop in a few real ms.
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  const web = () => controller.domains.get("web");
  const until = async (what: string, done: () => Promise<boolean>, who = hosts) => {
    for (let i = 0; i < 200; i++) {
      if (await done()) return;
      await run(1, 250, who);
    }
    assert.fail(`${what} did not happen`);
  };
  await run(2);
  await controller.domains.importFile(domainFile, "web.cfg");
  await controller.lifecycle.start("web", "admin", { host: "c1" });
  await until("web running on c1", async () => (await web()).observed?.state === "running");
  assert.deepEqual(await c1.guests(), ["web"]);
  assert.deepEqual(s1.servedMask(7), ["52:54:00:00:00:11"], "c1 was granted the volume");
  /** The domain on c2 and its guest running there (c1's last report no longer counts). */
  const onC2Running = async () => {
    const domain = await web();
    return domain.hostId === c2.record.id && domain.observed?.state === "running";
  };
  /** kill -9 of the controller and a start on the same store: everything in memory is lost. */
  const restartController = async () => {
    controller = new Controller(store, () => nowMs);
    await controller.ha.restore();
  };
  return {
    get controller() {
      return controller;
    },
    store,
    s1,
    c1,
    c2,
    run,
    until,
    web,
    onC2Running,
    restartController,
    dir,
    /** Another host, in every pass from now on. */
    addHost: async (name: string, roles: HostRole[], mac: string) => {
      const added = await host(name, roles, mac);
      hosts.push(added);
      return added;
    },
  };
}

describe("high availability on fake hypervisors", () => {
  test("a dead host is fenced at the storage before its HA domain restarts elsewhere", async () => {
    const b = await haBench();
    const { onC2Running } = b;
    b.c1.kill();
    // Past the dead timeout, with the storage agent NOT yet passing: the fence is requested...
    await b.run(22, 250, [b.c2]);
    assert.equal(b.controller.ha.state(b.c1.record.id), "dead");
    const domain = await b.web();
    assert.equal(domain.hostId, b.c1.record.id, "not restarted before the fence is confirmed");
    assert.match(
      b.controller.ha.heldReason(domain.id) ?? "",
      /waiting for storage host s1 to confirm that volume web no longer answers/,
    );
    assert.deepEqual(await b.c2.guests(), []);
    // ...the storage agent applies it: the target no longer answers c1; then the restart.
    await b.until("web placed on c2", async () => (await b.web()).hostId === b.c2.record.id);
    assert.ok(!(b.s1.servedMask(7) ?? []).includes("52:54:00:00:00:11"), "c1 is fenced out");
    assert.equal(b.controller.ha.state(b.c1.record.id), "fenced");
    await b.until("web running on c2", onC2Running);
    assert.deepEqual(await b.c2.guests(), ["web"]);
    assert.deepEqual(b.s1.servedMask(7), ["52:54:00:00:00:12"], "served to c2 alone");
    const notes = b.controller.ha.notes().map((n) => n.message);
    const at = (re: RegExp) => notes.findIndex((m) => re.test(m));
    assert.ok(at(/c1: lease lost/) >= 0, notes.join("\n"));
    assert.ok(at(/c1: lease lost/) < at(/c1: fence requested/));
    assert.ok(at(/c1: fence requested/) < at(/fence confirmed by storage host s1/));
    assert.ok(at(/fence confirmed by storage host s1/) < at(/web: placed on c2/));
  });

  test("the storage agent's report confirms a fence at once, without waiting for the next sweep", async () => {
    const b = await haBench();
    b.c1.kill();
    await b.run(22, 250, [b.c2]); // dead, fence requested; the storage agent has not passed
    const confirmed = () =>
      b.controller.ha.notes().some((n) => /fence confirmed by storage host s1/.test(n.message));
    assert.ok(!confirmed(), "not confirmed before the storage agent applied it");
    await b.s1.pass(); // applies the new generation and reports it; no sweep is called here
    for (let i = 0; i < 500 && !confirmed(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(
      confirmed(),
      b.controller.ha
        .notes()
        .map((n) => n.message)
        .join("\n"),
    );
    assert.equal(b.controller.ha.state(b.c1.record.id), "fenced");
  });

  test("a storage host that cannot confirm holds the restart; it goes on once it does", async () => {
    const b = await haBench();
    const { onC2Running } = b;
    b.c1.kill();
    b.s1.kill(); // its agent is unreachable too: no confirmation
    await b.run(60, 250, [b.c2]);
    assert.equal((await b.web()).hostId, b.c1.record.id, "held for 15 s");
    assert.deepEqual(await b.c2.guests(), []);
    // The reason, in the API's domain view (what `list --long` prints) and in the events.
    const app = createApi({ controller: b.controller });
    const admin = (await b.controller.auth.createToken({ name: "root", role: "admin" })).secret;
    const get = async <T>(route: string) =>
      (await (
        await app.request(route, { headers: { authorization: `Bearer ${admin}` } })
      ).json()) as T;
    const held = /waiting for storage host s1 to confirm that volume web no longer answers/;
    assert.match(
      (await get<{ domain: DomainRecord }>("/api/v1/domains/web")).domain.haHeld ?? "",
      held,
    );
    const listed = await get<{ domains: DomainRecord[] }>("/api/v1/domains");
    assert.match(listed.domains.find((d) => d.name === "web")?.haHeld ?? "", held);
    const events = await b.controller.events.list({});
    assert.ok(
      events.some(
        (e) =>
          e.kind === "ha.step" && /web: restart held: waiting for storage host s1/.test(e.message),
      ),
      events.map((e) => e.message).join("\n"),
    );
    // s1 went dead as well; back, it applies the fence and the restart proceeds.
    b.s1.revive();
    await b.until("web running on c2", onC2Running);
    assert.deepEqual(await b.c2.guests(), ["web"]);
    assert.equal(
      (await get<{ domain: DomainRecord }>("/api/v1/domains/web")).domain.haHeld,
      undefined,
    );
  });

  test("the returning host is told it was fenced and destroys its stale guest; one copy", async () => {
    const b = await haBench();
    const { onC2Running } = b;
    b.c1.kill();
    await b.until("web running on c2", onC2Running, [b.s1, b.c2]);
    assert.deepEqual(await b.c1.guests(), ["web"], "the frozen host's guest is still there");
    b.c1.revive();
    const grant = await b.c1.pass();
    assert.equal(grant?.state, "fenced", "the lease answer tells it not to trust its domains");
    assert.deepEqual(await b.c1.guests(), [], "its stale guest is destroyed");
    assert.deepEqual(await b.c2.guests(), ["web"], "the copy on c2 is untouched");
    await b.until("c1 up again", () =>
      Promise.resolve(b.controller.ha.state(b.c1.record.id) === "up"),
    );
    await b.run(4);
    assert.deepEqual(await b.c1.guests(), [], "still nothing on c1");
    assert.equal((await b.web()).hostId, b.c2.record.id);
  });

  test("a controller killed after the host died keeps it untrusted and fenced; the failover finishes, one copy", async () => {
    const b = await haBench();
    b.c1.kill();
    // Dead, fence requested, not confirmed (the storage agent does not pass yet): the restart waits.
    await b.run(22, 250, [b.c2]);
    assert.equal(b.controller.ha.state(b.c1.record.id), "dead");
    assert.equal((await b.web()).hostId, b.c1.record.id);
    await b.restartController();
    // The new process read the journal: dead from its first request, not one lease later.
    assert.equal(b.controller.ha.state(b.c1.record.id), "dead");
    assert.ok(b.controller.agents.fencedMacs.has("52:54:00:00:00:11"), "c1's MAC is still fenced");
    // c1 thaws and renews with the new controller: it is told it is dead (its lease holder then
    // self-fences; this bench's agents have none) and its desired state has no domain.
    b.c1.revive();
    const grant = await b.c1.pass();
    assert.equal(grant?.state, "dead");
    assert.deepEqual((await b.controller.agents.desired(b.c1.record.id)).domains, []);
    assert.equal(b.controller.ha.state(b.c1.record.id), "dead", "a renewal does not untrust it");
    // The failover finishes: confirmed, placed on c2, running there; never on both.
    for (let i = 0; i < 200 && !(await b.onC2Running()); i++) {
      await b.run(1);
      const both = (await b.c1.guests()).includes("web") && (await b.c2.guests()).includes("web");
      assert.ok(!both, `web runs on c1 and c2 after round ${i}`);
    }
    assert.ok(await b.onC2Running(), "web runs on c2");
    assert.deepEqual(await b.c2.guests(), ["web"]);
    assert.deepEqual(await b.c1.guests(), []);
    const notes = b.controller.ha.notes().map((n) => n.message);
    assert.ok(
      notes.some((m) => /c1: dead before the controller restarted/.test(m)),
      notes.join("\n"),
    );
    assert.ok(notes.some((m) => /web: placed on c2/.test(m)));
    // c1 keeps renewing: taken back once web moved, and it stays empty.
    await b.until("c1 up again", () =>
      Promise.resolve(b.controller.ha.state(b.c1.record.id) === "up"),
    );
    assert.ok(!b.controller.agents.fencedMacs.has("52:54:00:00:00:11"), "unfenced once up");
    await b.run(4);
    assert.deepEqual(await b.c1.guests(), []);
    assert.deepEqual(await b.c2.guests(), ["web"]);
  });

  test("a controller restarted after the failover still has the returning host destroy its stale guest", async () => {
    const b = await haBench();
    b.c1.kill();
    await b.until("web running on c2", b.onC2Running, [b.s1, b.c2]);
    assert.deepEqual(await b.c1.guests(), ["web"], "the frozen host's guest is still there");
    await b.restartController();
    assert.equal(b.controller.ha.state(b.c1.record.id), "fenced");
    assert.deepEqual(
      b.controller.ha.evictionsFor(b.c1.record.id).map((e) => e.name),
      ["web"],
      "the eviction survived the restart",
    );
    b.c1.revive();
    const grant = await b.c1.pass();
    assert.equal(grant?.state, "fenced");
    assert.deepEqual(await b.c1.guests(), [], "its stale guest is destroyed");
    assert.deepEqual(await b.c2.guests(), ["web"], "the copy on c2 is untouched");
    await b.until("c1 up again", () =>
      Promise.resolve(b.controller.ha.state(b.c1.record.id) === "up"),
    );
    await b.run(4);
    assert.deepEqual(await b.c1.guests(), []);
    assert.equal((await b.web()).hostId, b.c2.record.id);
    // Taken back: a third controller process does not fence it again.
    await b.restartController();
    assert.equal(b.controller.ha.state(b.c1.record.id), "up");
  });

  test("a storage host that cannot confirm holds only its own volumes' domains; the others go on", async () => {
    const b = await haBench();
    const s2 = await b.addHost("s2", ["storage"], "52:54:00:00:00:13");
    const pool2 = await b.controller.createPool({
      host: "s2",
      name: "p2",
      kind: "directory",
      path: path.join(b.dir, "pool2"),
    });
    await b.controller.store.createVolume({
      ...{ id: "vol-db", name: "db", kind: "volume", poolId: pool2.id, hostId: s2.record.id },
      ...{ sizeBytes: 2 ** 20, allocatedBytes: 0, sourceId: null, shelf: 8, slot: 0 },
      ...{ exported: true, allow: [], state: "ready", error: null, generation: 1 },
      ...{ allowEveryone: false, grants: [], appliedGeneration: 0, createdMs: 1, updatedMs: 1 },
    });
    await b.controller.domains.importFile(
      domainFile.replaceAll("web", "db").replace("00:00:21", "00:00:22"),
      "db.cfg",
    );
    await b.controller.lifecycle.start("db", "admin", { host: "c1" });
    const db = () => b.controller.domains.get("db");
    await b.until("db running on c1", async () => (await db()).observed?.state === "running");
    b.c1.kill();
    b.s1.kill(); // web's storage cannot confirm; db's (s2) can
    await b.until(
      "db running on c2",
      async () => {
        const d = await db();
        return d.hostId === b.c2.record.id && d.observed?.state === "running";
      },
      [s2, b.c2],
    );
    assert.equal((await b.web()).hostId, b.c1.record.id, "web still waits for s1");
    assert.match(b.controller.ha.heldReason((await b.web()).id) ?? "", /storage host s1/);
    assert.equal(b.controller.ha.heldReason((await db()).id), undefined);
    assert.deepEqual(await b.c2.guests(), ["db"]);
    b.s1.revive();
    await b.until("web running on c2", b.onC2Running);
    assert.deepEqual((await b.c2.guests()).sort(), ["db", "web"]);
  });

  test("a controller killed after the fence was confirmed but before the domain restarted finishes it on the new process", async () => {
    const b = await haBench();
    b.c1.kill();
    b.c2.kill(); // no host to restart on: the fence is confirmed, the restart fails and waits
    await b.until(
      "c1 fenced",
      () => Promise.resolve(b.controller.ha.state(b.c1.record.id) === "fenced"),
      [b.s1],
    );
    assert.equal((await b.web()).hostId, b.c1.record.id, "not restarted: no host up");
    assert.match(b.controller.ha.heldReason((await b.web()).id) ?? "", /restart attempt 1/);
    await b.restartController();
    assert.equal(b.controller.ha.state(b.c1.record.id), "fenced", "still fenced");
    assert.ok(b.controller.agents.fencedMacs.has("52:54:00:00:00:11"));
    b.c2.revive();
    await b.until("web running on c2", b.onC2Running, [b.s1, b.c2]);
    assert.deepEqual(await b.c2.guests(), ["web"]);
    const placed = b.controller.ha.notes().filter((n) => /web: placed on/.test(n.message));
    assert.equal(placed.length, 1, "placed once by the new process");
    assert.deepEqual(await b.c1.guests(), ["web"], "the frozen c1's guest, told to go on return");
    b.c1.revive();
    await b.c1.pass();
    assert.deepEqual(await b.c1.guests(), [], "destroyed on its return");
    assert.deepEqual(await b.c2.guests(), ["web"]);
  });
});
