/**
 * High availability with real processes under QEMU/TCG (several minutes): a controller, a storage
 * host (a second one for case 7) and two compute hosts running the qemu driver, each an
 * `etherplane` process in its own namespace (test/lab/ha-lab.ts). An HA domain boots from an AoE volume; its guest appends a
 * numbered marker "BOOT N" to /markers on that volume every 100 ms, synced. One lab, the cases in
 * turn; each starts where the previous one left the domain (a failed case skips the rest).
 *
 * 1. Power loss of the running host (A): kill -9 of its agent, QEMU and disk bridges, links down.
 *    The domain runs on B, once; the target no longer answers A's MAC; events show each step.
 * 2. Freeze and thaw of B: SIGSTOP of every process; the domain runs on A after the fence; on
 *    SIGCONT B's agent destroys its stale guest (self-fencing).
 * 3. The controller killed -9 right after it declared the running host (A, power loss) dead, and
 *    started again: the new process still knows A is dead (its HA journal), finishes the failover,
 *    and the domain runs on B once.
 * 4. The storage agent stopped (SIGSTOP) and the running host (B) lost: the restart waits, with the
 *    reason in `etherplane events` and `etherplane list --long`; on SIGCONT it goes on (on A).
 * 5. Partition, management cut (A's mgmt veth down, its SAN kept): A's agent self-fences (its
 *    guest destroyed, `self-fencing` in its log) before the controller places the domain on B.
 * 6. Partition, SAN cut (B's SAN veth down, management kept): nothing restarts over a window;
 *    no synced write lands during the cut, and once the disk bridge's request deadline passes
 *    (the compute agents run with `--san-request-timeout-ms 5000`; the default is 30 s) the
 *    guest sees its I/O fail (its marker writer prints EP-IOERR); the same QEMU keeps running.
 * 7. Two storage hosts: a second domain (ha2, its volume on sto2) starts beside ha1 (on sto1) on
 *    B; sto1's agent is stopped (SIGSTOP) and B loses power: ha2 runs on A while ha1's restart
 *    is held (the reason in events and `list --long`); on SIGCONT ha1 runs on A too.
 *
 * Each case samples the API's record and both hosts' QEMU processes every 150 ms and
 * `etherplane list --json` every second (each domain of the case): never two copies. At the end
 * the markers on the volume are whole, each boot's in one run, and e2fsck finds nothing. Measured times are diagnostics,
 * never asserted (a loaded 2-core machine). The controller runs with twice the default dead time
 * (ha-lab.ts HA_LEASE), so that a starved agent does not self-fence in a case about another failure.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { test, type TestContext } from "node:test";
import type { DomainRecord, EventRecord, VolumeRecord } from "../cluster/model.js";
import { ClusterLab } from "../../test/lab/cluster-lab.js";
import {
  assertOneCopy,
  DOMAIN,
  DOMAIN_TWO,
  HA_LEASE,
  haLab,
  lastMark,
  LIST_SAMPLE_MS,
  SAN_REQUEST_TIMEOUT_MS,
} from "../../test/lab/ha-lab.js";
import {
  agentDir,
  diskBridgePids,
  hostPids,
  processesNaming,
  qemuPids,
  running,
  signalAll,
} from "../../test/lab/host-processes.js";
import { run } from "../../test/lab/netns.js";
import { BOOT_MS_MAX } from "../../test/lab/migration-lab.js";

/** How long the SAN-cut case watches that nothing restarts (several lease timeouts). */
const SAN_CUT_WINDOW_MS = 2 * HA_LEASE.deadMs;
/** After the cut, how long a sync that was under way may take to print its marker. */
const SAN_CUT_SETTLE_MS = 3_000;
/** From the cut to the guest's I/O error (the bridge's deadline, 5 s, plus a slow TCG guest). */
const SAN_CUT_IO_ERROR_MS_MAX = 120_000;

const settle = () => new Promise((r) => setTimeout(r, 3 * LIST_SAMPLE_MS));

test("HA under QEMU/TCG: power loss, freeze and thaw, controller restart, storage agent stopped, partitions: the domain runs once, after the storage fenced the old host (several minutes)", async (t) => {
  const h = await haLab();
  const { lab, hostA, hostB, storage, volume, hostIds } = h;
  t.after(() => lab.close());
  const started = await h.cli(["start", DOMAIN, "--host", "cmpa"]);
  assert.equal(started.code, 0, `${started.stderr}\n${lab.logs()}`);
  await lab.waitFor("the guest's markers on host A", BOOT_MS_MAX, () => {
    const mark = lastMark(h.consoleLog(hostA));
    return mark && mark[0] === 1 && mark[1] >= 5 ? null : h.consoleLog(hostA).slice(-300);
  });
  assert.equal(qemuPids(hostA).length, 1, "host A runs the guest's QEMU");
  assert.equal(qemuPids(hostB).length, 0, "host B runs none");
  assert.equal(await h.sees(hostA), true, "A reaches its guest's volume before the power loss");

  /** The boot the guest is in now (one per failover); a case that fails stops the next ones. */
  let boot = 1;
  let healthy = true;
  /** Boot 2's markers the old guest on host B had acked when it was frozen (freeze and thaw). */
  let bootTwoMarksMax: number | undefined;
  const hostOf = async () => hostIds.get((await h.domain()).hostId ?? "");
  const sampling = (name = DOMAIN) => {
    const s = h.startSampling(name);
    t.after(() => s.stop());
    return s;
  };
  /** Events since `sinceMs` through the API (fast: no CLI process), to react to a step. */
  const apiEvents = async (sinceMs: number) =>
    (
      await lab.call<{ events: EventRecord[] }>(
        "GET",
        `/api/v1/cluster-events?sinceMs=${sinceMs}&limit=1000`,
      )
    ).body.events ?? [];
  const phase = (name: string, body: (st: TestContext) => Promise<void>) =>
    t.test(name, async (st) => {
      if (!healthy) return st.skip("an earlier case failed");
      healthy = false;
      await body(st);
      healthy = true;
    });

  await phase(
    "power loss: kill -9 of host A's agent, QEMU and disk bridge, links down",
    async (st) => {
      const s = sampling();
      assert.equal(qemuPids(hostA).length, 1, "one QEMU on host A");
      const killedMs = Date.now();
      await h.powerLoss(hostA);
      const lastOnA = lastMark(h.consoleLog(hostA));
      await h.waitForMarks(hostB, ++boot, "the guest's markers on host B");
      const runningMs = Date.now();
      await settle();
      await s.stop();

      const record = await h.domain();
      assert.equal(hostIds.get(record.hostId ?? ""), "cmpb", "the record says it runs on host B");
      assert.equal(record.observed?.state, "running");
      assert.equal(qemuPids(hostB).length, 1, "host B runs its QEMU");
      assert.equal(processesNaming(agentDir(hostA), "qemu-system").length, 0, "host A runs none");
      assert.equal(await h.hostState("cmpa"), "fenced");
      assertOneCopy(s, killedMs);
      assert.ok(
        s.samples.filter((x) => x.atMs > killedMs + 1000).every((x) => (x.qemu["cmpa"] ?? 0) === 0),
        "no QEMU on host A after the power loss",
      );
      assert.match(s.listed.at(-1) ?? "", /^cmpb:running$/);

      // The storage fence: host A's MAC gets no answer from the volume, host B's does.
      await hostA.ns.exec("ip", ["link", "set", hostA.aoeIf, "up"]);
      assert.equal(await h.sees(hostA), false, "the target no longer answers host A's MAC");
      assert.equal(await h.sees(hostB), true, "host B reaches the volume");
      const fenced = (
        await lab.call<{ volume: VolumeRecord }>("GET", `/api/v1/volumes/${volume.id}`)
      ).body.volume;
      assert.ok(
        fenced.grants.every((g) => hostIds.get(g.hostId) !== "cmpa"),
        `no grant for host A left: ${JSON.stringify(fenced.grants)}`,
      );

      // The HA steps, as `etherplane events` shows them, in order.
      const { step, started: startedOn } = await h.eventsSince(killedMs);
      const lost = step(/host cmpa: lease lost/);
      const requested = step(/host cmpa: fence requested on [1-9]\d* volumes/);
      const confirmed = step(/host cmpa: fence confirmed by storage host sto1/);
      step(/host cmpa: fenced/);
      const placed = step(new RegExp(`domain ${DOMAIN}: placed on cmpb`));
      const startedOnB = startedOn("cmpb");
      assert.ok(lost.timeMs <= requested.timeMs && requested.timeMs <= confirmed.timeMs);
      assert.ok(confirmed.timeMs <= placed.timeMs, "placed only after the fence was confirmed");
      assert.ok(placed.timeMs <= startedOnB.timeMs);
      st.diagnostic(
        `failover after kill -9: lease lost +${lost.timeMs - killedMs} ms, fence requested +${requested.timeMs - killedMs} ms, ` +
          `fence confirmed +${confirmed.timeMs - killedMs} ms, placed +${placed.timeMs - killedMs} ms, ` +
          `started +${startedOnB.timeMs - killedMs} ms, guest marking again +${runningMs - killedMs} ms (TCG boot included); ` +
          `last marker seen on A: ${JSON.stringify(lastOnA)}; ${s.samples.length} samples, ${s.listed.length} list samples`,
      );
    },
  );

  await phase(
    "freeze and thaw: SIGSTOP of every process of host B, failover to A, SIGCONT",
    async (st) => {
      // Host A comes back (links up, agent restarted): the controller takes it back once none of
      // its HA domains waits; its agent clears what is left of its dead guest.
      await h.bringBack(hostA);
      const s = sampling();
      const pidsB = hostPids(hostB);
      assert.equal(pidsB.length, 3, "host B's agent, QEMU and disk bridge");
      const qemuB = qemuPids(hostB);
      const frozenMs = Date.now();
      assert.equal(signalAll(pidsB, "SIGSTOP").length, 3);
      const lastBeforeFreeze = lastMark(h.consoleLog(hostB));
      assert.ok(lastBeforeFreeze && lastBeforeFreeze[0] === 2);
      // The marker being written when it stopped may have reached the volume, no later one.
      bootTwoMarksMax = lastBeforeFreeze[1] + 1;

      await h.waitForMarks(hostA, ++boot, "the guest's markers on host A");
      const runningMs = Date.now();
      assert.equal(await h.hostState("cmpb"), "fenced");
      assert.equal(await h.sees(hostB), false, "the target no longer answers host B's MAC");

      // Thaw: the old guest runs again for a moment; its agent must destroy it.
      const thawedMs = Date.now();
      signalAll(pidsB, "SIGCONT");
      await lab.waitFor("host B's agent to destroy its stale guest", 60_000, () => {
        const left = qemuB.filter((pid) => running(pid));
        return left.length === 0 ? null : `QEMU ${left.join(",")} still runs`;
      });
      const destroyedMs = Date.now();
      assert.match(hostB.agent?.stderr ?? "", /self-fencing/);
      await settle();
      await s.stop();
      for (const row of s.listed) assert.ok(!row.includes("+"), `listed twice: ${row}`);
      assert.match(s.listed.at(-1) ?? "", /^cmpa:running$/);
      assert.equal(await hostOf(), "cmpa");
      assert.equal(qemuPids(hostA).length, 1, "host A runs the guest");
      const afterThaw = [...h.consoleLog(hostB).matchAll(/EP-MARK 2 (\d+)/g)].filter(
        (m) => Number(m[1]) > lastBeforeFreeze[1],
      ).length;

      const { step, started: startedOn } = await h.eventsSince(frozenMs);
      const lost = step(/host cmpb: lease lost/);
      const confirmed = step(/host cmpb: fence confirmed by storage host sto1/);
      const placed = step(new RegExp(`domain ${DOMAIN}: placed on cmpa`));
      const startedOnA = startedOn("cmpa");
      assert.ok(confirmed.timeMs <= placed.timeMs, "placed only after the fence was confirmed");
      st.diagnostic(
        `failover after SIGSTOP: lease lost +${lost.timeMs - frozenMs} ms, fence confirmed +${confirmed.timeMs - frozenMs} ms, ` +
          `placed +${placed.timeMs - frozenMs} ms, started +${startedOnA.timeMs - frozenMs} ms, marking again +${runningMs - frozenMs} ms; ` +
          `after SIGCONT the stale guest ran ${destroyedMs - thawedMs} ms and printed ${afterThaw} more markers (fenced)`,
      );
      await lab.waitFor("host B up again", 120_000, async () => {
        const state = await h.hostState("cmpb");
        return state === "up" ? null : `${state}`;
      });
    },
  );

  await phase(
    "controller killed -9 right after it declared host A dead, then started again: the failover finishes, once",
    async (st) => {
      const s = sampling();
      const killedMs = Date.now();
      await h.powerLoss(hostA);
      await lab.waitFor("the controller to declare host A dead", 60_000, async () => {
        const events = await apiEvents(killedMs);
        return events.some((e) => /host cmpa: lease lost/.test(e.message)) ? null : "not yet";
      });
      const before = (await apiEvents(killedMs)).map((e) => e.message);
      await ClusterLab.kill(lab.controller);
      const controllerKilledMs = Date.now();
      // The lab waits 15 s for a start; a loaded machine may take longer: then the API tells.
      await lab.startController().catch(async (error: unknown) => {
        st.diagnostic(`the controller's start was slow: ${(error as Error).message.slice(0, 200)}`);
        await lab.waitFor("the restarted controller's API", 180_000, async () => {
          const reply = await lab.call("GET", "/api/v1/hosts");
          return reply.status === 200 ? null : `status ${reply.status}`;
        });
      });
      const restartedMs = Date.now();
      await h.waitForMarks(hostB, ++boot, "the guest's markers on host B");
      await settle();
      await s.stop();

      assert.equal(await hostOf(), "cmpb");
      assert.equal(qemuPids(hostB).length, 1, "host B runs the guest");
      assert.equal(processesNaming(agentDir(hostA), "qemu-system").length, 0, "host A runs none");
      assertOneCopy(s, killedMs);
      assert.match(s.listed.at(-1) ?? "", /^cmpb:running$/);
      const { events, step } = await h.eventsSince(killedMs);
      // The new process read its journal: A stays dead, not trusted for a lease, fenced again.
      const restored = step(/host cmpa: (dead|fenced) before the controller restarted/);
      assert.ok(restored.timeMs >= controllerKilledMs);
      const placed = events.filter(
        (e) => e.kind === "ha.step" && new RegExp(`domain ${DOMAIN}: placed on`).test(e.message),
      );
      assert.equal(placed.length, 1, `placed once: ${placed.map((e) => e.message).join("; ")}`);
      assert.equal(await h.hostState("cmpa"), "fenced", "A stays fenced after the restart");
      st.diagnostic(
        `controller killed ${controllerKilledMs - killedMs} ms after the power loss (it had noted: ${before.join(" | ")}); ` +
          `started again in ${restartedMs - controllerKilledMs} ms; placed +${(placed[0]?.timeMs ?? 0) - killedMs} ms`,
      );
    },
  );

  await phase(
    "storage agent stopped during a failover: the restart waits with its reason, then goes on",
    async (st) => {
      await h.bringBack(hostA);
      const s = sampling();
      const storagePid = storage.agent?.child.pid;
      assert.ok(storagePid !== undefined);
      const stoppedMs = Date.now();
      assert.equal(signalAll([storagePid], "SIGSTOP").length, 1);
      await h.powerLoss(hostB);
      const heldRe =
        /waiting for storage host sto1 to confirm that volume ha1-root no longer answers/;
      await lab.waitFor("the held restart in list --long", 120_000, async () => {
        const out = await h.cli(["list", "--long", DOMAIN]);
        return /\(ha held waiting for storage host sto1/.test(out.stdout) ? null : out.stdout;
      });
      const { step } = await h.eventsSince(stoppedMs);
      step(new RegExp(`domain ${DOMAIN}: restart held: ${heldRe.source}`));
      assert.match((await h.domain()).haHeld ?? "", heldRe);
      assert.equal(await hostOf(), "cmpb", "not moved while the storage cannot confirm");
      assert.equal(qemuPids(hostA).length, 0, "nothing started on A");
      const contMs = Date.now();
      signalAll([storagePid], "SIGCONT");
      await h.waitForMarks(hostA, ++boot, "the guest's markers on host A");
      await settle();
      await s.stop();
      assertOneCopy(s, stoppedMs);
      assert.equal(await hostOf(), "cmpa");
      assert.equal((await h.domain()).haHeld, undefined, "no longer held");
      const after = await h.eventsSince(contMs);
      const confirmed = after.step(/host cmpb: fence confirmed by storage host sto1/);
      const placed = after.step(new RegExp(`domain ${DOMAIN}: placed on cmpa`));
      assert.ok(confirmed.timeMs <= placed.timeMs);
      st.diagnostic(
        `held ${contMs - stoppedMs} ms while sto1's agent was stopped; after SIGCONT: confirmed +${confirmed.timeMs - contMs} ms, placed +${placed.timeMs - contMs} ms`,
      );
      await h.bringBack(hostB);
    },
  );

  await phase(
    "partition, management cut: A's agent self-fences before the domain is placed on B",
    async (st) => {
      const s = sampling();
      const cutMs = Date.now();
      await hostA.ns.exec("ip", ["link", "set", "mgmt0", "down"]);
      await h.waitForMarks(hostB, ++boot, "the guest's markers on host B");
      await settle();
      await s.stop();
      assertOneCopy(s, cutMs);
      assert.equal(await hostOf(), "cmpb");
      assert.equal(qemuPids(hostA).length, 0, "A's agent destroyed its guest");
      const line = (hostA.agent?.stderr ?? "")
        .split("\n")
        .find((l) => /self-fencing/.test(l) && Date.parse(l.split(" ")[0] ?? "") >= cutMs);
      assert.ok(line, `no self-fencing line in A's log:\n${hostA.agent?.stderr.slice(-2000)}`);
      const selfFencedMs = Date.parse(line.split(" ")[0] ?? "");
      const { step } = await h.eventsSince(cutMs);
      const placed = step(new RegExp(`domain ${DOMAIN}: placed on cmpb`));
      assert.ok(
        selfFencedMs < placed.timeMs,
        "the agent self-fenced before the controller placed it elsewhere",
      );
      const lastOnA = s.samples.filter((x) => (x.qemu["cmpa"] ?? 0) > 0).at(-1);
      assert.ok(!lastOnA || lastOnA.atMs < placed.timeMs, "A's QEMU was gone before the placement");
      st.diagnostic(
        `management cut: self-fencing +${selfFencedMs - cutMs} ms, placed on B +${placed.timeMs - cutMs} ms, ` +
          `last QEMU seen on A +${lastOnA ? lastOnA.atMs - cutMs : "-"} ms`,
      );
      await hostA.ns.exec("ip", ["link", "set", "mgmt0", "up"]);
      await lab.waitFor("host A up again", 120_000, async () => {
        const state = await h.hostState("cmpa");
        return state === "up" ? null : `${state}`;
      });
    },
  );

  await phase(
    "partition, SAN cut: B keeps its lease, nothing restarts; past the disk bridge's request deadline the guest sees I/O errors",
    async (st) => {
      const s = sampling();
      const cutMs = Date.now();
      const qemuB = qemuPids(hostB);
      // The guest's disk bridge runs with the agent's short deadline (not the 30 s default).
      const bridges = diskBridgePids(hostB);
      const shortBridges = processesNaming(agentDir(hostB), "node", [
        `--request-timeout-ms ${SAN_REQUEST_TIMEOUT_MS}`,
      ]);
      assert.ok(bridges.length > 0, "B runs the guest's disk bridge");
      assert.ok(
        bridges.every((pid) => shortBridges.includes(pid)),
        `bridges ${bridges.join(",")}, with --request-timeout-ms ${SAN_REQUEST_TIMEOUT_MS}: ${shortBridges.join(",")}`,
      );
      const consoleFrom = h.consoleLog(hostB).length;
      const sinceCut = () => h.consoleLog(hostB).slice(consoleFrom);
      await hostB.ns.exec("ip", ["link", "set", hostB.aoeIf, "down"]);
      // A sync under way when the link went down may still print its marker; after that, none.
      await new Promise((r) => setTimeout(r, SAN_CUT_SETTLE_MS));
      const cutMark = lastMark(h.consoleLog(hostB));
      // The disk bridge gives up on a request after SAN_REQUEST_TIMEOUT_MS: QEMU gets EIO from
      // it, and so does the guest (its marker writer says EP-IOERR).
      await lab.waitFor("the guest's I/O error during the SAN cut", SAN_CUT_IO_ERROR_MS_MAX, () =>
        /EP-IOERR \d+ \d+/.test(sinceCut()) ? null : h.consoleLog(hostB).slice(-300),
      );
      const ioErrorMs = Date.now();
      // The cut lasts at least the window (several lease timeouts): nothing may restart meanwhile.
      const leftMs = cutMs + SAN_CUT_WINDOW_MS - Date.now();
      if (leftMs > 0) await new Promise((r) => setTimeout(r, leftMs));
      const endMark = lastMark(h.consoleLog(hostB));
      await hostB.ns.exec("ip", ["link", "set", hostB.aoeIf, "up"]);
      const linkUpMs = Date.now();
      assert.deepEqual(endMark, cutMark, "no synced write reached the disk during the cut");
      assert.equal(await h.sees(hostB), true, "the target still answers B: it was not fenced");
      await settle();
      await s.stop();
      assertOneCopy(s, cutMs);
      assert.ok(
        s.samples.every(
          (x) => (x.qemu["cmpa"] ?? 0) === 0 && hostIds.get(x.hostId ?? "") === "cmpb",
        ),
        "the domain stayed on B, nothing on A",
      );
      assert.ok(
        s.samples.every((x) => x.state === "running"),
        `the domain kept running: ${[...new Set(s.samples.map((x) => x.state))].join(",")}`,
      );
      assert.deepEqual(qemuPids(hostB), qemuB, "the same QEMU on B: nothing restarted");
      assert.equal(await h.hostState("cmpb"), "up");
      const { events } = await h.eventsSince(cutMs);
      assert.ok(
        !events.some(
          (e) =>
            (e.kind === "ha.step" && /placed on|lease lost/.test(e.message)) ||
            (e.kind === "domain.started" && e.subject === DOMAIN),
        ),
        events.map((e) => e.message).join("\n"),
      );
      const cutLog = sinceCut();
      st.diagnostic(
        `SAN cut for ${linkUpMs - cutMs} ms (bridge deadline ${SAN_REQUEST_TIMEOUT_MS} ms): markers stalled at ${JSON.stringify(cutMark)}; ` +
          `first EP-IOERR seen +${ioErrorMs - cutMs} ms; during and after the cut the guest printed ` +
          `${(cutLog.match(/EP-IOERR/g) ?? []).length} EP-IOERR, ${(cutLog.match(/I\/O error/g) ?? []).length} kernel "I/O error" lines, ` +
          `${(cutLog.match(/EP-MARK/g) ?? []).length} markers (last ${JSON.stringify(lastMark(h.consoleLog(hostB)))})`,
      );
    },
  );

  await phase(
    "two storage hosts, sto1's agent stopped during a failover: the domain on sto2 goes on, the one on sto1 waits, then runs; one copy each",
    async (st) => {
      // ha1 runs on B (its volume on sto1); ha2 (its volume on sto2) starts beside it.
      const started2 = await h.cli(["start", DOMAIN_TWO, "--host", "cmpb"]);
      assert.equal(started2.code, 0, `${started2.stderr}\n${lab.logs()}`);
      await h.waitForMarks(hostB, 1, `${DOMAIN_TWO}'s markers on host B`, DOMAIN_TWO);
      const s1 = sampling();
      const s2 = sampling(DOMAIN_TWO);
      const storagePid = storage.agent?.child.pid;
      assert.ok(storagePid !== undefined);
      const stoppedMs = Date.now();
      assert.equal(signalAll([storagePid], "SIGSTOP").length, 1);
      await h.powerLoss(hostB);
      // sto2 confirms its fence: ha2 restarts on A while sto1 cannot confirm ha1's.
      await h.waitForMarks(hostA, 2, `${DOMAIN_TWO}'s markers on host A`, DOMAIN_TWO);
      const twoRunningMs = Date.now();
      const heldRe =
        /waiting for storage host sto1 to confirm that volume ha1-root no longer answers/;
      await lab.waitFor(`${DOMAIN}'s held restart in list --long`, 120_000, async () => {
        const out = await h.cli(["list", "--long", DOMAIN]);
        return /\(ha held waiting for storage host sto1/.test(out.stdout) ? null : out.stdout;
      });
      const longOf = async (name: string) => (await h.cli(["list", "--long", name])).stdout;
      assert.match(await longOf(DOMAIN), /\(ha held waiting for storage host sto1/);
      const longTwo = await longOf(DOMAIN_TWO);
      assert.match(longTwo, /\(host cmpa\)/, "ha2 listed on A");
      assert.doesNotMatch(longTwo, /ha held/, "ha2 not held");
      const held = await h.eventsSince(stoppedMs);
      held.step(new RegExp(`domain ${DOMAIN}: restart held: ${heldRe.source}`));
      const confirmedTwo = held.step(/host cmpb: fence confirmed by storage host sto2/);
      const placedTwo = held.step(new RegExp(`domain ${DOMAIN_TWO}: placed on cmpa`));
      assert.ok(confirmedTwo.timeMs <= placedTwo.timeMs, "ha2 placed after sto2 confirmed");
      assert.ok(
        !held.events.some(
          (e) =>
            /fence confirmed by storage host sto1/.test(e.message) ||
            new RegExp(`domain ${DOMAIN}: placed on`).test(e.message),
        ),
        "nothing confirmed by the stopped sto1, ha1 not placed",
      );
      assert.match((await h.domain()).haHeld ?? "", heldRe);
      assert.equal(await hostOf(), "cmpb", "ha1 not moved while sto1 cannot confirm");
      assert.equal(
        processesNaming(agentDir(hostA), "qemu-system", [`guest=${DOMAIN},`]).length,
        0,
        "ha1 not started on A",
      );

      const contMs = Date.now();
      signalAll([storagePid], "SIGCONT");
      await h.waitForMarks(hostA, ++boot, `${DOMAIN}'s markers on host A`);
      await settle();
      await Promise.all([s1.stop(), s2.stop()]);
      assertOneCopy(s1, stoppedMs);
      assertOneCopy(s2, stoppedMs);
      assert.equal(await hostOf(), "cmpa");
      assert.equal((await h.domain()).haHeld, undefined, "no longer held");
      const two = (await lab.call<{ domain: DomainRecord }>("GET", `/api/v1/domains/${DOMAIN_TWO}`))
        .body.domain;
      assert.equal(hostIds.get(two.hostId ?? ""), "cmpa", "ha2 runs on A");
      assert.match(s1.listed.at(-1) ?? "", /^cmpa:running$/);
      assert.match(s2.listed.at(-1) ?? "", /^cmpa:running$/);
      const after = await h.eventsSince(contMs);
      const confirmed = after.step(/host cmpb: fence confirmed by storage host sto1/);
      const placed = after.step(new RegExp(`domain ${DOMAIN}: placed on cmpa`));
      assert.ok(confirmed.timeMs <= placed.timeMs, "ha1 placed after sto1 confirmed");
      st.diagnostic(
        `sto1 stopped, B lost: ${DOMAIN_TWO} placed +${placedTwo.timeMs - stoppedMs} ms, marking on A +${twoRunningMs - stoppedMs} ms; ` +
          `${DOMAIN} held ${contMs - stoppedMs} ms; after SIGCONT: confirmed by sto1 +${confirmed.timeMs - contMs} ms, placed +${placed.timeMs - contMs} ms`,
      );
      const destroyed = await h.cli(["destroy", DOMAIN_TWO]);
      assert.equal(destroyed.code, 0, destroyed.stderr);
    },
  );

  // Stop it; /markers holds each boot's markers in one run after the previous boot's.
  if (!healthy) return; // the failed case said why; the domain may be anywhere
  const shutdown = await h.cli(["shutdown", DOMAIN, "--timeout", "120"]);
  assert.equal(shutdown.code, 0, `${shutdown.stderr}\n${lab.logs()}`);
  const volumeFile = path.join(storage.dataDir, "pool", `${volume.id}.img`);
  const markers = (await run("debugfs", ["-R", "cat /markers", volumeFile])).stdout
    .trim()
    .split("\n")
    .map((line, i): [number, number] => {
      const match = /^(\d+) (\d+)$/.exec(line);
      assert.ok(match, `/markers line ${i + 1} is torn: ${JSON.stringify(line)}`);
      return [Number(match[1]), Number(match[2])];
    });
  const ofBoot = (b: number) => markers.filter(([x]) => x === b).map(([, n]) => n);
  const boots = markers.map(([b]) => b);
  assert.deepEqual(
    [...new Set(boots)],
    Array.from({ length: boot }, (_, i) => i + 1),
  );
  for (const b of new Set(boots)) {
    const marks = ofBoot(b);
    assert.ok(marks.length >= 5, `boot ${b}: ${marks.length} markers`);
    marks.forEach((n, i) => assert.equal(n, i + 1, `boot ${b}, marker ${i + 1}`));
    const from = boots.indexOf(b);
    assert.ok(
      boots.slice(from, from + marks.length).every((x) => x === b),
      `boot ${b}'s markers are not in one run`,
    );
  }
  if (bootTwoMarksMax !== undefined)
    assert.ok(
      ofBoot(2).length <= bootTwoMarksMax,
      `the frozen guest had ${bootTwoMarksMax - 1} markers acked, the volume holds ${ofBoot(2).length}: a write got past the fence`,
    );
  const fsck = await run("e2fsck", ["-fn", volumeFile]);
  assert.doesNotMatch(fsck.stdout, /UNEXPECTED INCONSISTENCY|Fix\?/);
});
