import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decodeJournal, encodeJournal, JOURNAL_EVICTIONS_PER_HOST_MAX } from "./ha-journal.js";

describe("HA journal codec", () => {
  test("round trip through JSON", () => {
    const journal = {
      hosts: new Map([
        ["h1", { kind: "fenced" as const, sinceMs: 5, macs: ["52:54:00:00:00:11"] }],
      ]),
      evictions: new Map([["h1", [{ id: "d1", name: "web", uuid: "u-1" }]]]),
    };
    const { journal: back, problems } = decodeJournal(
      JSON.parse(JSON.stringify(encodeJournal(journal))),
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(back, journal);
  });

  test("absent: empty, no problem", () => {
    const { journal, problems } = decodeJournal(undefined);
    assert.equal(journal.hosts.size, 0);
    assert.deepEqual(problems, []);
  });

  test("hostile parts are dropped with a reason; the good ones kept", () => {
    const { journal, problems } = decodeJournal({
      version: 1,
      hosts: {
        good: { kind: "dead", sinceMs: 1, macs: ["AA:BB:CC:DD:EE:FF"] },
        badKind: { kind: "up", sinceMs: 1, macs: [] },
        badMacs: { kind: "dead", sinceMs: 1, macs: "x" },
      },
      evictions: {
        h: [{ id: "d", name: "n" }],
        long: Array.from({ length: JOURNAL_EVICTIONS_PER_HOST_MAX + 1 }, () => ({
          ...{ id: "d", name: "n", uuid: "u" },
        })),
      },
    });
    assert.deepEqual([...journal.hosts.keys()], ["good"]);
    assert.deepEqual(journal.hosts.get("good")?.macs, ["aa:bb:cc:dd:ee:ff"]);
    assert.equal(journal.evictions.size, 0);
    assert.equal(problems.length, 4, problems.join("; "));
    assert.match(problems.join("; "), /host badKind: kind "up"/);
    assert.deepEqual(decodeJournal({ version: 2 }).problems, ["not a version 1 HA journal"]);
  });
});
