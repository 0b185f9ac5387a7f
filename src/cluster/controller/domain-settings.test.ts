import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { IN_MEMORY } from "../store/sqlite/open-database.js";
import { hostRecord } from "../testing/records.js";
import { openSqliteStore } from "../store/sqlite/sqlite-store.js";
import { Controller } from "./controller.js";
import type { DomainSettingsPatch } from "./domain-settings.js";
import { byHaPriority, haEnabled } from "./ha-policy.js";

const file = (name: string, onCrash: string) => `name = "${name}"
kernel = "/boot/vmlinuz"
memory = 128
on_reboot = 'destroy'
on_crash = '${onCrash}'
`;

async function cluster() {
  const controller = new Controller(await openSqliteStore(IN_MEMORY));
  await controller.store.createHost(hostRecord({ id: "host-1", name: "h1" }));
  const set = (ref: string, patch: DomainSettingsPatch) =>
    controller.domainSettings.set(ref, patch, "admin");
  return { controller, set };
}

describe("domain settings (placement and HA in one patch)", () => {
  test("HA on by default for on_crash = restart, off otherwise; set on/off/auto is stored", async () => {
    const { controller, set } = await cluster();
    await controller.domains.importFile(file("a", "restart"), "a.cfg");
    await controller.domains.importFile(file("b", "destroy"), "b.cfg");
    assert.equal(haEnabled(await controller.domains.get("a")), true);
    assert.equal(haEnabled(await controller.domains.get("b")), false);
    await set("a", { ha: "off" });
    await set("b", { ha: "on", haPriority: 50 });
    const a = await controller.domains.get("a");
    const b = await controller.domains.get("b");
    assert.equal(a.ha, false, "read back from SQLite");
    assert.equal(haEnabled(a), false);
    assert.equal(haEnabled(b), true);
    assert.equal(b.haPriority, 50);
    assert.deepEqual(
      [a, b].sort(byHaPriority).map((d) => d.name),
      ["b", "a"],
    );
    await set("a", { ha: "auto" });
    assert.equal((await controller.domains.get("a")).ha, null);
    assert.equal(haEnabled(await controller.domains.get("a")), true);
  });

  test("placement and HA together: one write, one event naming each", async () => {
    const { controller, set } = await cluster();
    await controller.domains.importFile(file("a", "restart"), "a.cfg");
    const before = await controller.domains.get("a");
    const after = await set("a", { pin: ["h1"], antiAffinity: "web", ha: "on", haPriority: -3 });
    assert.equal(after.generation, before.generation + 1, "one store update");
    assert.equal(after.antiAffinity, "web");
    assert.equal(after.pinHosts.length, 1);
    assert.equal(after.ha, true);
    assert.equal(after.haPriority, -3);
    const events = (await controller.events.list({ limit: 100 })).filter(
      (e) => e.kind === "domain.settings",
    );
    assert.equal(events.length, 1);
    assert.match(
      events[0]?.message ?? "",
      /^a: anti-affinity web; pinned to h1; ha on; ha priority -3 \(from the next placement\)$/,
    );
  });

  test("nothing to set, a bad ha value or a priority out of bounds is refused and changes nothing", async () => {
    const { controller, set } = await cluster();
    await controller.domains.importFile(file("a", "restart"), "a.cfg");
    const before = await controller.domains.get("a");
    const refused = async (patch: DomainSettingsPatch, message: RegExp) =>
      assert.rejects(set("a", patch), (e) => {
        assert.ok(isEtherplaneError(e, "INVALID_ARGUMENT"));
        assert.match(e.message, message);
        return true;
      });
    await refused({}, /nothing to set: give .*--ha on\|off\|auto and\/or --ha-priority N/);
    await refused(
      { pin: ["h1"], haPriority: 5000 },
      /ha-priority: 5000 must be a whole number from -1000 to 1000/,
    );
    await refused(
      { antiAffinity: "g", ha: "maybe" as "on" },
      /ha: "maybe" is not a setting; give on, off or auto/,
    );
    const after = await controller.domains.get("a");
    assert.equal(after.generation, before.generation);
    assert.deepEqual(after.pinHosts, [], "the valid part of a refused patch is not written");
    assert.equal(after.antiAffinity, null);
  });
});
