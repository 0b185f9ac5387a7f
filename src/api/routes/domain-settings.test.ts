/**
 * PATCH /api/v1/domains/{ref}/settings: placement and HA settings in one call, checked whole,
 * audited once; the old PUT .../ha names the PATCH; a viewer may not. Through the real Hono app.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AuditRecord, DomainRecord } from "../../cluster/model.js";
import { inProcessApi, type ErrorBody } from "../testing/in-process-api.js";

const webFile = `name = "web"
kernel = "/boot/vmlinuz"
memory = 128
on_crash = 'destroy'
`;

test("domain settings: pin and HA in one PATCH, one audit entry; PUT /ha is gone; viewers refused", async () => {
  const b = await inProcessApi();
  await b.joinHost("h1", ["compute"]);
  const imported = await b.call("POST", "/api/v1/domains", b.admin, { config: webFile });
  assert.equal(imported.status, 201, JSON.stringify(imported.body));
  const audited = async () =>
    (await b.call<{ entries: AuditRecord[] }>("GET", "/api/v1/audit?limit=1000", b.admin)).body
      .entries;
  const auditBefore = (await audited()).length;

  const set = await b.call<{ domain: DomainRecord }>(
    "PATCH",
    "/api/v1/domains/web/settings",
    b.admin,
    { pin: ["h1"], antiAffinity: "front", ha: "on", haPriority: 20 },
  );
  assert.equal(set.status, 200, JSON.stringify(set.body));
  assert.equal(set.body.domain.ha, true);
  assert.equal(set.body.domain.haPriority, 20);
  assert.equal(set.body.domain.antiAffinity, "front");
  assert.equal(set.body.domain.pinHosts.length, 1);
  const entries = (await audited()).slice(auditBefore);
  assert.deepEqual(
    entries.map((e) => `${e.method} ${e.path} ${e.status}`),
    ["PATCH /api/v1/domains/web/settings 200"],
  );
  assert.match(entries[0]?.subject ?? "", /"ha":"on","haPriority":20/);

  // One bad field refuses the whole patch: the good ones are not written either.
  const refused = await b.call<ErrorBody>("PATCH", "/api/v1/domains/web/settings", b.admin, {
    ha: "off",
    haPriority: 4000,
  });
  assert.equal(refused.status, 400);
  assert.match(refused.body.error.message, /ha-priority: 4000 must be a whole number/);
  const badHa = await b.call<ErrorBody>("PATCH", "/api/v1/domains/web/settings", b.admin, {
    ha: "sometimes",
  });
  assert.equal(badHa.status, 400);
  assert.match(badHa.body.error.message, /^ha: /);
  const after = await b.call<{ domain: DomainRecord }>("GET", "/api/v1/domains/web", b.admin);
  assert.equal(after.body.domain.ha, true);
  assert.equal(after.body.domain.haPriority, 20);

  const old = await b.call<ErrorBody>("PUT", "/api/v1/domains/web/ha", b.admin, { ha: "off" });
  assert.equal(old.status, 404);
  assert.match(old.body.error.message, /PATCH \/api\/v1\/domains\/web\/settings/);

  const viewer = (await b.controller.auth.createToken({ name: "v", role: "viewer" })).secret;
  const denied = await b.call<ErrorBody>("PATCH", "/api/v1/domains/web/settings", viewer, {
    ha: "off",
  });
  assert.equal(denied.status, 403);
  const operator = (await b.controller.auth.createToken({ name: "o", role: "operator" })).secret;
  const allowed = await b.call("PATCH", "/api/v1/domains/web/settings", operator, {
    ha: "auto",
  });
  assert.equal(allowed.status, 200, "an operator may, as before");
  await b.close();
});
