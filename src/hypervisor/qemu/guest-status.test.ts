import assert from "node:assert/strict";
import { test } from "node:test";
import { stateFlagsText } from "../driver.js";
import { exitFromEvents, guestCondition, type ObservedGuest } from "./guest-status.js";
import { parseQmpTranscript } from "./qmp-codec.js";

// Event journals as QEMU 7.2 wrote them (events.out) for each way a guest stopped.
const head =
  '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian"}, "capabilities": ["oob"]}}\n{"return": {}}\n';
const journals = {
  poweroff:
    head +
    '{"timestamp": {"seconds": 1795784613, "microseconds": 410413}, "event": "POWERDOWN"}\n' +
    '{"timestamp": {"seconds": 1795784616, "microseconds": 195926}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}}\n' +
    '{"timestamp": {"seconds": 1795784616, "microseconds": 196036}, "event": "STOP"}\n',
  reboot:
    head +
    '{"timestamp": {"seconds": 1795784649, "microseconds": 193442}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-reset"}}\n' +
    '{"timestamp": {"seconds": 1795784649, "microseconds": 193547}, "event": "STOP"}\n',
  crash:
    head +
    '{"timestamp": {"seconds": 1795784698, "microseconds": 702552}, "event": "GUEST_PANICKED", "data": {"action": "pause"}}\n' +
    '{"timestamp": {"seconds": 1795784698, "microseconds": 702651}, "event": "STOP"}\n',
  quit:
    head +
    '{"timestamp": {"seconds": 1795784490, "microseconds": 76010}, "event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}}\n',
};

const events = (text: string) => parseQmpTranscript(text, false);

function observed(overrides: Partial<ObservedGuest>): ObservedGuest {
  return {
    alive: true,
    status: "running",
    events: [],
    vcpuThreadStates: [],
    recordedExit: null,
    ...overrides,
  };
}

void test("the journal names why the guest stopped; host-initiated stops are no exit", () => {
  assert.equal(exitFromEvents(events(journals.poweroff)), "poweroff");
  assert.equal(exitFromEvents(events(journals.reboot)), "reboot");
  assert.equal(exitFromEvents(events(journals.crash)), "crash");
  assert.equal(exitFromEvents(events(journals.quit)), null);
  assert.equal(exitFromEvents(events(head)), null);
});

void test("QEMU run states map to xl's flags", () => {
  const text = (o: Partial<ObservedGuest>) => {
    const condition = guestCondition(observed(o));
    return `${stateFlagsText(condition.state)} ${condition.exit}`;
  };
  assert.equal(text({ vcpuThreadStates: ["S", "R"] }), "r----- null");
  assert.equal(text({ vcpuThreadStates: ["S", "S"] }), "-b---- null");
  assert.equal(text({ vcpuThreadStates: [] }), "r----- null");
  assert.equal(text({ status: "paused" }), "--p--- null");
  assert.equal(text({ status: "io-error" }), "--p--- null");
  assert.equal(text({ status: "suspended" }), "-b---- null");
  assert.equal(text({ status: "shutdown", events: events(journals.poweroff) }), "---s-- poweroff");
  assert.equal(text({ status: "shutdown", events: events(journals.reboot) }), "---s-- reboot");
  assert.equal(text({ status: "guest-panicked", events: events(journals.crash) }), "----c- crash");
  assert.equal(text({ status: "internal-error" }), "----c- crash");
  // A lost journal: a stop is reported as a power-off.
  assert.equal(text({ status: "shutdown" }), "---s-- poweroff");
  // What was recorded first wins over a journal that later changed.
  assert.equal(
    text({ status: "shutdown", events: events(journals.poweroff), recordedExit: "reboot" }),
    "---s-- reboot",
  );
});

void test("a dead QEMU is a stopped guest: its recorded or journaled reason, else a crash", () => {
  const dead = (o: Partial<ObservedGuest>) =>
    guestCondition(observed({ alive: false, status: undefined, ...o }));
  assert.equal(dead({}).exit, "crash");
  assert.equal(dead({}).state.crashed, true);
  assert.equal(dead({ events: events(journals.poweroff) }).exit, "poweroff");
  assert.equal(dead({ recordedExit: "reboot" }).exit, "reboot");
});

void test("a QEMU that does not answer is running unless the journal says it stopped", () => {
  assert.equal(guestCondition(observed({ status: undefined })).state.running, true);
  const stopped = guestCondition(observed({ status: undefined, events: events(journals.reboot) }));
  assert.equal(stopped.exit, "reboot");
});
