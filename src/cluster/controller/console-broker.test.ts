/**
 * ConsoleBroker's bounds on in-memory stream pairs, with a clock and timers the test moves itself
 * (no wait on real time): sessions per token and in all, the agent's wait, the idle end.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { duplexPair } from "../agent/duplex-pair.js";
import { ConsoleBroker, type ConsoleClock, type ConsoleLimits } from "./console-broker.js";

/** Timers that fire only when the test advances the clock. */
class ManualClock implements ConsoleClock {
  private nowMs = 0;
  private timers: Array<{ at: number; fn: () => void; handle: NodeJS.Timeout }> = [];
  now = () => this.nowMs;
  setTimeout = (fn: () => void, ms: number): NodeJS.Timeout => {
    // A real handle that never fires, only as an identity for clearTimeout.
    const handle = setTimeout(() => undefined, 0);
    clearTimeout(handle);
    this.timers.push({ at: this.nowMs + ms, fn, handle });
    return handle;
  };
  clearTimeout = (handle: NodeJS.Timeout): void => {
    this.timers = this.timers.filter((t) => t.handle !== handle);
  };
  advance(ms: number): void {
    this.nowMs += ms;
    for (;;) {
      const due = this.timers.find((t) => t.at <= this.nowMs);
      if (!due) return;
      this.timers = this.timers.filter((t) => t !== due);
      due.fn();
    }
  }
}

const limits: ConsoleLimits = {
  sessionsMax: 3,
  sessionsPerOwnerMax: 2,
  agentWaitMs: 1000,
  idleMs: 10_000,
};

/** Collects what a stream receives, and whether it ended. */
function reader(stream: NodeJS.ReadableStream) {
  const seen = { text: "", ended: false };
  stream.on("data", (chunk: Buffer) => (seen.text += chunk.toString()));
  stream.on("end", () => (seen.ended = true));
  return seen;
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test("sessions are capped per token and in all, with a message saying what to do", () => {
  const broker = new ConsoleBroker(limits, new ManualClock());
  broker.open("host-1", "a", duplexPair()[1], "tok-alice");
  broker.open("host-1", "b", duplexPair()[1], "tok-alice");
  assert.throws(
    () => broker.open("host-1", "c", duplexPair()[1], "tok-alice"),
    (error) =>
      isEtherplaneError(error) &&
      error.code === "UNAVAILABLE" &&
      /this token has 2 consoles open already \(at most 2\)/.test(error.message),
  );
  broker.open("host-1", "c", duplexPair()[1], "tok-bob");
  assert.throws(
    () => broker.open("host-1", "d", duplexPair()[1], "tok-carol"),
    (error) => isEtherplaneError(error) && /3 consoles are open already/.test(error.message),
  );
  assert.equal(broker.count(), 3);
  assert.equal(broker.count("tok-alice"), 2);
  broker.closeAll();
  assert.equal(broker.count(), 0);
});

test("a closed session frees its owner's slot", async () => {
  const broker = new ConsoleBroker(limits, new ManualClock());
  const [client, controllerSide] = duplexPair();
  broker.open("host-1", "a", controllerSide, "tok-alice");
  broker.open("host-1", "b", duplexPair()[1], "tok-alice");
  client.destroy();
  await tick();
  assert.equal(broker.count("tok-alice"), 1);
  broker.open("host-1", "c", duplexPair()[1], "tok-alice");
  broker.closeAll();
});

test("a session ends when the agent does not connect in time", async () => {
  const clock = new ManualClock();
  const broker = new ConsoleBroker(limits, clock);
  const [client, controllerSide] = duplexPair();
  const seen = reader(client);
  broker.open("host-1", "web", controllerSide, "tok-alice");
  clock.advance(999);
  assert.equal(broker.count(), 1);
  clock.advance(1);
  await tick();
  assert.equal(broker.count(), 0);
  assert.match(seen.text, /the agent of web's host did not connect within 1 s/);
  assert.ok(seen.ended);
});

test("an attached session ends after idleMs without a byte, not before", async () => {
  const clock = new ManualClock();
  const broker = new ConsoleBroker(limits, clock);
  const [client, controllerSide] = duplexPair();
  const [agentEnd, agentSide] = duplexPair();
  const seen = reader(client);
  const atAgent = reader(agentEnd);
  const id = broker.open("host-1", "web", controllerSide, "tok-alice");
  broker.attach(id, "host-1", agentSide);
  clock.advance(6000);
  client.write("ls\r");
  await tick();
  assert.equal(atAgent.text, "ls\r", "bytes flow to the agent");
  clock.advance(6000); // 12 s since attach, 6 s since the last byte
  await tick();
  assert.equal(broker.count(), 1, "activity keeps it open");
  agentEnd.write("prompt$ ");
  await tick();
  clock.advance(9999);
  await tick();
  assert.equal(broker.count(), 1);
  clock.advance(1);
  await tick();
  assert.equal(broker.count(), 0, "10 s without a byte ends it");
  assert.match(seen.text, /^prompt\$ \r\netherplane: console of web idle for 10 s; closed/);
  assert.ok(seen.ended);
});
