/** Who may go past the policy table: nobody but an admin, by naming each key. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { parseXlConfig } from "../xl-cfg/index.js";
import { checkDomainPolicy, enforceDomainPolicy, type PolicyActor } from "./domain-policy.js";

const file = 'name = "t"\npci = ["0000:00:1f.2"]\nvif = ["script=/any/path"]\nmemory = 64\n';
const found = checkDomainPolicy(parseXlConfig(file, "t.cfg"));

function refusal(actor: PolicyActor, findings = found): string {
  try {
    enforceDomainPolicy("t.cfg", findings, actor);
  } catch (error) {
    assert.ok(isEtherplaneError(error, "FORBIDDEN"), String(error));
    return error.message;
  }
  assert.fail("not refused");
}

describe("domain policy enforcement", () => {
  it("refuses an operator every refused line, with its line and why, and says what to do", () => {
    const message = refusal({ role: "operator", allowUnsafe: [] });
    assert.match(message, /t\.cfg: line 2: `pci` refused .*host PCI device/);
    assert.match(message, /t\.cfg: line 3: `vif` refused \(item 1: script=\/any\/path\)/);
    assert.match(message, /ask an admin/);
  });

  it("refuses an operator who tries to allow a key", () => {
    assert.match(refusal({ role: "operator", allowUnsafe: ["pci"] }), /only an admin/);
  });

  it("refuses an admin who did not name every key, naming the flag", () => {
    assert.match(refusal({ role: "admin", allowUnsafe: [] }), /--allow-unsafe pci,vif/);
    const message = refusal({ role: "admin", allowUnsafe: ["pci"] });
    assert.doesNotMatch(message, /`pci`/);
    assert.match(message, /--allow-unsafe vif/);
  });

  it("lets an admin through with every key named, and says what was allowed", () => {
    const decision = enforceDomainPolicy("t.cfg", found, {
      role: "admin",
      allowUnsafe: ["vif", "pci"],
    });
    assert.deepEqual(decision.allowedKeys, ["pci", "vif"]);
    assert.equal(decision.allowed.length, 2);
  });

  it("passes a clean file for anyone, allowing nothing", () => {
    const clean = checkDomainPolicy(parseXlConfig('name = "t"\n', "t.cfg"));
    assert.deepEqual(
      enforceDomainPolicy("t.cfg", clean, { role: "viewer", allowUnsafe: [] }).allowedKeys,
      [],
    );
  });

  it("keeps an admin's allowance through an operator's edit only for unchanged values", () => {
    const previouslyAllowed = found;
    const edited = checkDomainPolicy(
      parseXlConfig(file.replace("memory = 64", "memory = 128"), "t.cfg"),
    );
    const decision = enforceDomainPolicy("t.cfg", edited, {
      role: "operator",
      allowUnsafe: [],
      previouslyAllowed,
    });
    assert.deepEqual(decision.allowedKeys, ["pci", "vif"]);
    const changed = checkDomainPolicy(parseXlConfig(file.replace("1f.2", "1f.3"), "t.cfg"));
    assert.match(
      refusal({ role: "operator", allowUnsafe: [], previouslyAllowed }, changed),
      /line 2: `pci` refused/,
    );
  });

  it("lists at most 20 refusals of a hostile file, and says how many more", () => {
    const items = Array.from({ length: 5000 }, () => "'script=/x'").join(", ");
    const many = checkDomainPolicy(parseXlConfig(`name = "t"\nvif = [ ${items} ]\n`, "t.cfg"));
    assert.equal(many.length, 5000);
    const message = refusal({ role: "operator", allowUnsafe: [] }, many);
    assert.ok(message.length < 6000, `${message.length} characters`);
    assert.match(message, /\.\.\. and 4980 more/);
  });
});
