import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";
import { createLogger } from "../../foundation/log.js";
import { SimClock } from "../../foundation/sim-clock.js";
import type { LeaseGrant } from "../controller/host-liveness.js";
import { FIRST_REPORT_SPREAD_MS, startSpread } from "./agent.js";
import { LeaseHolder, checkedLeaseTimes, type LeaseTimes } from "./lease-holder.js";
import { leaseTimesPath, loadLeaseTimes, saveLeaseTimes } from "./lease-times-file.js";

const log = createLogger("test:lease");
const grant = (state = "up"): LeaseGrant => ({
  renewMs: 1000,
  deadMs: 5000,
  selfFenceMs: 3000,
  state,
});

/** A lease holder on virtual time whose controller answers as `answer` says. */
function holder(answer: () => Promise<LeaseGrant>, before?: LeaseTimes) {
  const clock = new SimClock();
  const events: string[] = [];
  const timesTold: LeaseTimes[] = [];
  const lease = new LeaseHolder(
    answer,
    {
      onLost: (reason) => events.push(`lost at ${clock.nowMs() - 1_000_000}: ${reason}`),
      onRegained: () => events.push(`regained at ${clock.nowMs() - 1_000_000}`),
      onTimes: (times) => timesTold.push(times),
    },
    clock,
    log,
    before,
  );
  return { clock, events, lease, timesTold };
}

describe("the agent's lease", () => {
  test("renewed every second, it is never lost", async () => {
    let renewals = 0;
    const { clock, events, lease } = holder(() => {
      renewals++;
      return Promise.resolve(grant());
    });
    lease.start();
    await clock.advance(20_000);
    await lease.stop();
    assert.ok(renewals >= 20, `${renewals} renewals`);
    assert.deepEqual(events, []);
    assert.equal(lease.lost, false);
  });

  test("the controller unreachable: it self-fences after selfFenceMs, before the dead timeout", async () => {
    let reachable = true;
    const { clock, events, lease } = holder(() =>
      reachable ? Promise.resolve(grant()) : Promise.reject(new Error("ECONNREFUSED")),
    );
    lease.start();
    await clock.advance(2_000);
    reachable = false;
    await clock.advance(6_000);
    assert.equal(lease.lost, true);
    assert.equal(events.length, 1, events.join("\n"));
    const at = Number(/lost at (\d+)/.exec(events[0] ?? "")?.[1]);
    // The last renewal that worked was sent at 2000 at the latest: lost by 5000, before the
    // controller's dead timeout (5 s after it received that renewal, i.e. at 7000 or later).
    assert.ok(at > 2_000 + 2_000 && at <= 2_000 + 3_000 + 100, `lost at ${at}`);
    assert.match(events[0] ?? "", /no lease renewal for \d+ ms .*dead after 5000 ms/);
    reachable = true;
    await clock.advance(2_000);
    assert.equal(lease.lost, false);
    assert.match(events[1] ?? "", /regained/);
    await lease.stop();
  });

  test("a restarted agent's grace before its first renewal is the controller's last self-fence time", async () => {
    const long: LeaseTimes = { renewMs: 1000, deadMs: 60_000, selfFenceMs: 58_000 };
    const slow = () => new Promise<LeaseGrant>(() => {}); // the first renewal never comes back
    const remembered = holder(slow, long);
    remembered.lease.start();
    await remembered.clock.advance(30_000);
    assert.equal(remembered.lease.lost, false, "30 s of a 58 s grace");
    await remembered.clock.advance(29_000);
    assert.equal(remembered.lease.lost, true);
    const fresh = holder(slow);
    fresh.lease.start();
    await fresh.clock.advance(3_000);
    assert.equal(fresh.lease.lost, true, "without a remembered timing: the defaults' 2 s");
    const bogus = holder(slow, { renewMs: 1, deadMs: 10 ** 9, selfFenceMs: 10 ** 9 });
    bogus.lease.start();
    await bogus.clock.advance(3_000);
    assert.equal(bogus.lease.lost, true, "out-of-bounds timing is not trusted");
  });

  test("the timing is reported when it changes, and saved and loaded through lease.json", async () => {
    const { clock, lease, timesTold } = holder(() => Promise.resolve(grant()));
    lease.start();
    await clock.advance(5_000);
    await lease.stop();
    assert.deepEqual(timesTold, [{ renewMs: 1000, deadMs: 5000, selfFenceMs: 3000 }], "once");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ep-lease-"));
    try {
      const file = leaseTimesPath(dir);
      assert.equal(loadLeaseTimes(file, log), undefined, "none saved yet");
      const times = { renewMs: 2000, deadMs: 60_000, selfFenceMs: 56_000 };
      saveLeaseTimes(file, times, log);
      assert.deepEqual(loadLeaseTimes(file, log), times);
      fs.writeFileSync(file, '{"renewMs": 2000, "deadMs": 60000, "selfFenceMs": 70000}');
      assert.equal(loadLeaseTimes(file, log), undefined, "a self-fence past the dead time");
      fs.writeFileSync(file, "{not json");
      assert.equal(loadLeaseTimes(file, log), undefined);
      fs.writeFileSync(file, "x".repeat(10_000));
      assert.equal(loadLeaseTimes(file, log), undefined, "too big to be one");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(checkedLeaseTimes(null), undefined);
    assert.equal(checkedLeaseTimes({ renewMs: 50, deadMs: 400, selfFenceMs: 200 }), undefined);
  });

  test("told dead or fenced by the controller, it self-fences at once and stays fenced", async () => {
    let state = "up";
    const { clock, events, lease } = holder(() => Promise.resolve(grant(state)));
    lease.start();
    await clock.advance(1_500);
    state = "fenced";
    await clock.advance(1_000);
    assert.equal(lease.lost, true);
    assert.match(events[0] ?? "", /declared this host fenced/);
    await clock.advance(5_000);
    assert.equal(events.length, 1, "lost once, not again and again");
    state = "up";
    await clock.advance(1_000);
    assert.equal(lease.lost, false);
    await lease.stop();
  });

  test("a first renewal spread by a delay: none before it, then every second, never lost", async () => {
    const sentAt: number[] = [];
    const { clock, events, lease } = holder(() => {
      sentAt.push(clock.nowMs() - 1_000_000);
      return Promise.resolve(grant());
    });
    lease.start(700);
    await clock.advance(699);
    assert.deepEqual(sentAt, [], "nothing before the delay");
    await clock.advance(10_000);
    await lease.stop();
    assert.ok((sentAt[0] ?? 0) >= 700, `first renewal at ${sentAt[0]}`);
    assert.ok(sentAt.length >= 9, `${sentAt.length} renewals`);
    assert.deepEqual(events, [], "a delay shorter than the grace never self-fences");
  });

  test("the start spread stays within one renewal (renewal) and FIRST_REPORT_SPREAD_MS (report)", () => {
    const most = startSpread(500, () => 0.9999);
    assert.ok(most.renewMs < 500 && most.reportMs < FIRST_REPORT_SPREAD_MS, JSON.stringify(most));
    assert.deepEqual(
      startSpread(500, () => 0),
      { reportMs: 0, renewMs: 0 },
    );
    const some = startSpread(1000, () => 0.5);
    assert.deepEqual(some, { reportMs: FIRST_REPORT_SPREAD_MS / 2, renewMs: 500 });
  });
});
