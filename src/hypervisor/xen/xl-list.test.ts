import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { stateFlagsText } from "../driver.js";
import { xlFixture } from "./testing/fake-xl-runner.js";
import { parseStateText, parseXlList, XL_LIST_LIMITS } from "./xl-list.js";

const HEADER = "Name                                        ID   Mem VCPUs\tState\tTime(s)";
const VERBOSE_HEADER = `${HEADER}   UUID                            Reason-Code\tSecurity Label`;
const UUID = "6f1c2a40-5b7e-4c1d-9a2e-000000000009";

/** A row as list_domains prints it (tools/xl/xl_info.c). */
function row(name: string, state: string, reason = "-", verbose = true): string {
  const base = `${name.padEnd(40)} ${"9".padStart(5)} ${"256".padStart(5)} ${"1".padStart(5)}     ${state}  ${"12.5".padStart(8)}`;
  return verbose ? `${base} ${UUID} ${reason.padStart(8)} ${"-".padStart(16)}` : base;
}

function refused(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseXlList(text),
    (error: unknown) => {
      assert.ok(isEtherplaneError(error, "PROTOCOL"), String(error));
      assert.match(error.message, pattern);
      return true;
    },
  );
}

describe("xl list", () => {
  test("dom0 only (Xen 4.17.7)", () => {
    const rows = parseXlList(xlFixture("xl-list-dom0-only.txt", "."));
    assert.deepEqual(rows, [
      {
        name: "Domain-0",
        domid: 0,
        memoryMiB: 512,
        vcpus: 2,
        stateText: "r-----",
        state: {
          running: true,
          blocked: false,
          paused: false,
          shutdown: false,
          crashed: false,
          dying: false,
        },
        cpuTimeS: 5.5,
        shutdownReason: null,
        exit: null,
      },
    ]);
  });

  test("-v with guests: uuids, reason codes and exits", () => {
    const rows = parseXlList(xlFixture("xl-list-v.txt"));
    assert.deepEqual(
      rows.map((r) => [r.name, r.domid, r.uuid, r.stateText, r.shutdownReason, r.exit]),
      [
        ["Domain-0", 0, "00000000-0000-0000-0000-000000000000", "r-----", null, null],
        ["ep-run", 1, "6f1c2a40-5b7e-4c1d-9a2e-000000000001", "--p---", null, null],
        ["ep-poweroff", 2, "6f1c2a40-5b7e-4c1d-9a2e-000000000002", "---s--", 0, "poweroff"],
        ["ep-reboot", 3, "6f1c2a40-5b7e-4c1d-9a2e-000000000003", "---sr-", 1, "reboot"],
        ["ep-crash", 4, "6f1c2a40-5b7e-4c1d-9a2e-000000000004", "---sc-", 3, "crash"],
      ],
    );
    const crash = rows.find((r) => r.name === "ep-crash");
    assert.equal(crash?.state.crashed, true);
    assert.equal(crash?.state.shutdown, true);
    assert.equal(rows.find((r) => r.name === "ep-run")?.state.paused, true);
    assert.equal(crash?.cpuTimeS, 23.4);
    assert.equal(crash?.memoryMiB, 128);
  });

  test("plain xl list gives the same exits from the State letters", () => {
    const verbose = parseXlList(xlFixture("xl-list-v.txt"));
    const plain = parseXlList(xlFixture("xl-list.txt"));
    assert.deepEqual(
      plain.map((r) => [r.name, r.stateText, r.shutdownReason, r.exit, r.uuid]),
      verbose.map((r) => [r.name, r.stateText, r.shutdownReason, r.exit, undefined]),
    );
  });

  test("a guest shut down on request: reason 0, poweroff", () => {
    const run = parseXlList(xlFixture("xl-list-v-after-shutdown.txt")).find(
      (r) => r.name === "ep-run",
    );
    assert.equal(run?.stateText, "---s--");
    assert.equal(run?.exit, "poweroff");
  });

  test("the state text round-trips through the driver's stateFlagsText", () => {
    for (const text of ["r-----", "-b----", "--p---", "---s--", "---sc-", "-----d", "rbpscd"]) {
      assert.equal(stateFlagsText(parseStateText(text)), text);
    }
  });

  test("every shutdown reason xl knows", () => {
    const cases: Array<[string, string, number, string | null]> = [
      ["---sw-", "4", 4, "crash"], // watchdog: a hung guest
      ["---sS-", "5", 5, "reboot"], // soft reset: restart in place
      ["---ss-", "2", 2, null], // suspend: a toolstack saving it, not an exit
      ["---s?-", "1f", 31, "crash"], // unknown code
    ];
    for (const [state, code, reason, exit] of cases) {
      const [verbose] = parseXlList(`${VERBOSE_HEADER}\n${row("g", state, code)}\n`);
      assert.deepEqual([verbose?.shutdownReason, verbose?.exit], [reason, exit], state);
      const [plain] = parseXlList(`${HEADER}\n${row("g", state, code, false)}\n`);
      assert.equal(plain?.exit, exit, `${state} without -v`);
    }
  });

  test("names with spaces, names longer than the column, CR LF, blank lines", () => {
    const long = "a-very-long-guest-name-that-overflows-the-forty-columns";
    const text = `\r\n${VERBOSE_HEADER}\r\n${row("web 12", "-b----")}\r\n\r\n${row(long, "r-----")}\r\n`;
    assert.deepEqual(
      parseXlList(text).map((r) => [r.name, r.domid, r.memoryMiB]),
      [
        ["web 12", 9, 256],
        [long, 9, 256],
      ],
    );
  });

  test("an empty list is a header alone", () => {
    assert.deepEqual(parseXlList(`${HEADER}\n`), []);
  });

  test("truncated and hostile output is refused with the line", () => {
    refused("", /no "Name ID Mem VCPUs State Time\(s\)" header/);
    refused("libxl: error: cannot init xl context\n", /no "Name/);
    const full = xlFixture("xl-list-v.txt");
    refused(full.slice(0, full.indexOf("ep-reboot") + 60), /line 5 is not a verbose domain row/);
    refused(`${HEADER}\n${row("g", "r-----")}\n`, /line 2 is not a domain row/);
    refused(`${VERBOSE_HEADER}\n${row("g", "r-----", "-", false)}\n`, /line 2 is not a verbose/);
    refused(`${HEADER}\n${row("g", "x-----", "-", false)}\n`, /State "x-----" has x at 1/);
    refused(`${HEADER}\n${row("g", "---sq-", "-", false)}\n`, /has no reason q/);
    refused(`${HEADER}\n${"x".repeat(2000)} 1 2 3 r----- 1.0\n`, /over 1024 characters/);
    refused("x".repeat(XL_LIST_LIMITS.outputBytesMax + 1), /over \d+ bytes/);
  });
});
