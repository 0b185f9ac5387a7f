import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { IN_MEMORY } from "../store/sqlite/open-database.js";
import { openSqliteStore } from "../store/sqlite/sqlite-store.js";
import { Controller } from "./controller.js";
import { setDomainHa } from "./domain-ha-settings.js";
import { byHaPriority, haEnabled } from "./ha-policy.js";

const file = (name: string, onCrash: string) => `name = "${name}"
kernel = "/boot/vmlinuz"
memory = 128
on_reboot = 'destroy'
on_crash = '${onCrash}'
`;

describe("domain HA settings", () => {
  test("on by default for on_crash = restart, off otherwise; set on/off/auto is stored", async () => {
    const controller = new Controller(await openSqliteStore(IN_MEMORY));
    const set = (ref: string, request: Parameters<typeof setDomainHa>[3]) =>
      setDomainHa(controller.store, controller.domains, ref, request);
    await controller.domains.importFile(file("a", "restart"), "a.cfg");
    await controller.domains.importFile(file("b", "destroy"), "b.cfg");
    assert.equal(haEnabled(await controller.domains.get("a")), true);
    assert.equal(haEnabled(await controller.domains.get("b")), false);
    await set("a", { ha: "off" });
    await set("b", { ha: "on", priority: 50 });
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

  test("nothing to set, or a priority out of bounds, is refused and changes nothing", async () => {
    const controller = new Controller(await openSqliteStore(IN_MEMORY));
    await controller.domains.importFile(file("a", "restart"), "a.cfg");
    const before = await controller.domains.get("a");
    const refused = async (request: Parameters<typeof setDomainHa>[3], message: RegExp) =>
      assert.rejects(setDomainHa(controller.store, controller.domains, "a", request), (e) => {
        assert.ok(isEtherplaneError(e, "INVALID_ARGUMENT"));
        assert.match(e.message, message);
        return true;
      });
    await refused({}, /give --ha on\|off\|auto, --ha-priority N/);
    await refused(
      { priority: 5000 },
      /ha-priority: 5000 must be a whole number from -1000 to 1000/,
    );
    assert.equal((await controller.domains.get("a")).generation, before.generation);
  });
});
