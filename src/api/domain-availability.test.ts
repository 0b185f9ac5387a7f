/**
 * A domain's availability in its API view, over a real SQLite store whose clock the test sets:
 * imported (never wanted running: no percentage), then wanted running and observed running and
 * stopped as an agent's reports would record it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Controller } from "../cluster/controller/controller.js";
import type { DomainAvailability } from "../cluster/controller/domain-availability.js";
import type { DomainObserved, DomainRecord } from "../cluster/model.js";
import { IN_MEMORY } from "../cluster/store/sqlite/open-database.js";
import { openSqliteStore } from "../cluster/store/sqlite/index.js";
import { createApi } from "./app.js";

const seen = (state: DomainObserved["state"]): DomainObserved => ({
  ...{ state, domid: 1, flags: "-b----", memoryMiB: 64, vcpus: 1, cpuTimeS: 0 },
  ...{ appliedGeneration: 9, appliedRebootSeq: 0, lastExit: null, restarts: 0, error: null },
  atMs: 0,
});

test("GET /api/v1/domains/{ref} has the domain's availability", async () => {
  // The store's clock is the test's; the API's window ends at the real now, after all of it.
  let nowMs = Date.now() - 600_000;
  const store = await openSqliteStore(IN_MEMORY, { nowMs: () => nowMs });
  const controller = new Controller(store);
  const app = createApi({ controller });
  const admin = (await controller.auth.createToken({ name: "root", role: "admin" })).secret;
  const call = async <T>(method: string, route: string, body?: unknown) => {
    const response = await app.request(route, {
      method,
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  const imported = await call<{ domain: DomainRecord }>("POST", "/api/v1/domains", {
    config: 'name = "av1"\nmemory = 64\n',
  });
  assert.equal(imported.status, 201, JSON.stringify(imported.body));
  const id = imported.body.domain.id;
  const view = () =>
    call<{ domain: DomainRecord; availability: DomainAvailability }>("GET", "/api/v1/domains/av1");
  const first = await view();
  assert.equal(first.status, 200);
  assert.equal(first.body.availability.sinceCreated.percent, null, "never wanted running");

  nowMs += 100_000;
  await store.updateDomain(id, { desiredState: "running" });
  await store.observeDomain(id, seen("running"));
  nowMs += 100_000;
  await store.observeDomain(id, seen("stopped")); // down for 100 s while wanted
  nowMs += 100_000;
  await store.observeDomain(id, seen("running"));
  const { body } = await view();
  const total = body.availability.sinceCreated;
  assert.equal(body.domain.name, "av1");
  // Wanted running from 100 s after the import until now (>= 500 s), 100 s of it down.
  assert.ok(total.wantedMs >= 500_000, `${total.wantedMs}`);
  assert.equal(total.wantedMs - total.upMs, 100_000);
  assert.ok(total.percent !== null && total.percent < 100 && total.percent >= 80);
  assert.equal(body.availability.last24h.upMs, total.upMs, "all of it within the last 24 h");
  await store.close();
});
