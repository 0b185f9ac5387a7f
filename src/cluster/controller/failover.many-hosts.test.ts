/**
 * The HA sweep with many hosts at once (issue 12, scale): its journal writes and domain reads are
 * per sweep, not per dead host, and a host registered late gets its first lease from its
 * registration. The real controller on a real (in-memory) SQLite store, behind a counting proxy;
 * the clock is the test's.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Store } from "../store/store.js";
import { IN_MEMORY } from "../store/sqlite/open-database.js";
import { openSqliteStore } from "../store/sqlite/sqlite-store.js";
import { Controller } from "./controller.js";
import { FIRST_LEASE_PERIODS, LEASE_DEFAULT } from "./host-liveness.js";

const HOSTS = 200;

/** The store, counting the calls of each method. */
function counting(store: Store): { store: Store; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const proxy = new Proxy(store, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== "function" || typeof key !== "string") return value;
      return (...args: unknown[]) => {
        calls.set(key, (calls.get(key) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, calls };
}

async function bench() {
  let nowMs = 1_700_000_000_000;
  const { store, calls } = counting(await openSqliteStore(IN_MEMORY));
  const controller = new Controller(store, () => nowMs);
  const ids: string[] = [];
  for (let i = 0; i < HOSTS; i++) {
    const host = await controller.agents.registerHost({
      name: `h${i}`,
      roles: ["storage"],
      exportInterfaces: [],
    });
    ids.push(host.id);
  }
  return {
    controller,
    ids,
    calls,
    /** Time passes, swept every 250 ms as the controller does (a longer gap is a stall). */
    pass: async (ms: number): Promise<void> => {
      for (let leftMs = ms; leftMs > 0; leftMs -= 250) {
        nowMs += Math.min(250, leftMs);
        await controller.ha.sweep();
      }
    },
    /** The calls `run` made, by method. */
    counted: async (run: () => Promise<void>): Promise<Map<string, number>> => {
      const before = new Map(calls);
      await run();
      return new Map([...calls].map(([k, n]) => [k, n - (before.get(k) ?? 0)]));
    },
  };
}

describe("HA sweep with many hosts", () => {
  test("hundreds of leases lost at once: one journal write and one domain read per sweep", async () => {
    const { controller, ids, pass, counted } = await bench();
    for (const id of ids) await controller.agents.renew(id);
    await controller.ha.sweep();
    assert.ok(ids.every((id) => controller.ha.state(id) === "up"));
    const death = await counted(() => pass(LEASE_DEFAULT.deadMs + 1));
    // No volumes: each fence is complete at once, so every host is fenced in this one sweep.
    assert.deepEqual(
      new Set(ids.map((id) => controller.ha.state(id))),
      new Set(["fenced"]),
      "every host whose lease expired is fenced",
    );
    assert.ok(
      (death.get("setSetting") ?? 0) <= 2,
      `the journal is written at most twice (dead, then fenced), not per host: ${death.get("setSetting")}`,
    );
    assert.ok(
      (death.get("listDomains") ?? 0) <= 1,
      `domains are read once, by the one sweep with dead hosts: ${death.get("listDomains")}`,
    );
    const lost = controller.ha.notes().filter((n) => /lease lost/.test(n.message));
    assert.equal(lost.length, HOSTS, "each host's death is in the notes once");
    // A later sweep with nothing new to do writes nothing.
    const idle = await counted(() => controller.ha.sweep());
    assert.equal(idle.get("setSetting") ?? 0, 0, "nothing new: no journal write");
    // They all renew again: taken back in one write.
    for (const id of ids) await controller.agents.renew(id);
    const back = await counted(() => controller.ha.sweep());
    assert.ok(
      ids.every((id) => controller.ha.state(id) === "up"),
      "every host is up again",
    );
    assert.ok(
      (back.get("setSetting") ?? 0) <= 1,
      `taken back in one journal write: ${back.get("setSetting")}`,
    );
  });

  test("a host registered after the controller ran for a minute is not dead before its first renewal", async () => {
    const { controller, ids, pass } = await bench();
    for (let s = 0; s < 60; s++) {
      for (const id of ids) await controller.agents.renew(id);
      await pass(1000);
    }
    const late = await controller.agents.registerHost({
      name: "late",
      roles: ["storage"],
      exportInterfaces: [],
    });
    await controller.ha.sweep();
    assert.equal(controller.ha.state(late.id), "up", "its first lease runs from its registration");
    for (let ms = 0; ms <= FIRST_LEASE_PERIODS * LEASE_DEFAULT.deadMs; ms += 1000) {
      for (const id of ids) await controller.agents.renew(id);
      await pass(1000);
    }
    assert.equal(
      controller.ha.state(late.id),
      "fenced",
      "a host that never renews is declared dead its first lease after its registration",
    );
    assert.ok(
      ids.every((id) => controller.ha.state(id) === "up"),
      "the others renewed: up",
    );
  });
});
