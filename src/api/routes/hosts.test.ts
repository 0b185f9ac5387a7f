/**
 * GET /api/v1/hosts gives each host's one state: its lease (and HA's view) combined with
 * maintenance, fenced > dead > suspect > maintenance > up (host-state.ts). The clock is the
 * test's, so the lease ages without waiting.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { LEASE_DEFAULT } from "../../cluster/controller/host-liveness.js";
import { inProcessApi } from "../testing/in-process-api.js";

test("host state: up, suspect, maintenance, dead while in maintenance, up again", async () => {
  const b = await inProcessApi({ ms: 1_000_000 });
  const agent = await b.joinHost("h1", ["compute"]);
  const state = async () => {
    const reply = await b.call<{ hosts: Array<{ name: string; state: string }> }>(
      "GET",
      "/api/v1/hosts",
      b.admin,
    );
    assert.equal(reply.status, 200);
    return reply.body.hosts.find((h) => h.name === "h1")?.state;
  };
  const renew = async () =>
    assert.equal((await b.call("POST", "/api/v1/agent/lease", agent.token)).status, 200);

  await renew();
  assert.equal(await state(), "up");
  b.now.ms += LEASE_DEFAULT.suspectMs + 1;
  assert.equal(await state(), "suspect");
  await renew();

  const entered = await b.call<{ host: { state: string } }>(
    "POST",
    "/api/v1/hosts/h1/maintenance",
    b.admin,
    {},
  );
  assert.equal(entered.status, 202, JSON.stringify(entered.body));
  assert.equal(entered.body.host.state, "maintenance", "the reply says it too");
  assert.equal(await state(), "maintenance");
  b.now.ms += LEASE_DEFAULT.suspectMs + 1;
  assert.equal(await state(), "suspect", "lease trouble shows before maintenance");
  b.now.ms += LEASE_DEFAULT.deadMs;
  assert.equal(await state(), "dead");

  await renew();
  await b.controller.maintenance.idle();
  const activated = await b.call<{ host: { state: string } }>(
    "POST",
    "/api/v1/hosts/h1/activate",
    b.admin,
  );
  assert.equal(activated.status, 202, JSON.stringify(activated.body));
  assert.equal(activated.body.host.state, "up");
  assert.equal(await state(), "up");
  await b.controller.maintenance.idle();
  await b.close();
});
