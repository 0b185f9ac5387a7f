import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { checkDomainName, checkVdev, domainNameProblem, isVdev } from "./names.js";

describe("domain names", () => {
  it("accepts the names real files use", () => {
    for (const name of ["noc.grid", "web1", "a", "_x", "mail-2.example", "x".repeat(64), "12a"])
      assert.equal(domainNameProblem(name), undefined, name);
  });

  it("refuses path separators, control and bidi characters, dom0, digits, length (issue 10)", () => {
    const bad = [
      "../../../../etc/x",
      "a/b",
      "a\\b",
      "..",
      ".hidden",
      "-rf",
      "web\n1",
      "web\u0000",
      "x".repeat(65),
      "x".repeat(100_000),
      "Domain-0",
      "domain-0",
      "12",
      "evil\u202egnp.exe",
      "caf\u00e9",
      "a b",
      "",
    ];
    for (const name of bad) {
      assert.notEqual(domainNameProblem(name), undefined, JSON.stringify(name.slice(0, 20)));
      assert.throws(
        () => checkDomainName(name),
        (e) => isEtherplaneError(e, "INVALID_CONFIG") && e.message.length < 400,
      );
    }
  });

  it("shows a right-to-left override escaped in the message", () => {
    assert.throws(() => checkDomainName("a\u202eb"), /a\\u202eb/);
  });
});

describe("vdevs (xl-disk-configuration(5))", () => {
  it("accepts each form within its limits", () => {
    for (const vdev of [
      "xvda",
      "xvdb1",
      "xvdz15",
      "xvdaa",
      "hda",
      "hdd63",
      "sda1",
      "sdp15",
      "d0",
      "d0p1",
      "d1048575p255",
    ])
      assert.ok(isVdev(vdev), vdev);
  });

  it("refuses what libxl would not read, or read as another disk", () => {
    for (const vdev of [
      "",
      "xvd",
      "xvda16",
      "xvda01",
      "hde",
      "hda64",
      "sdq",
      "sda16",
      "d1048576",
      "d0p256",
      "xvda/../x",
      "vda",
      "XVDA",
      "xvda\n",
      "d01",
    ])
      assert.ok(!isVdev(vdev), vdev);
    assert.throws(
      () => checkVdev("../x"),
      (e) => isEtherplaneError(e, "INVALID_CONFIG") && /xvda/.test(e.message),
    );
  });
});
