import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import {
  domainType,
  readXlDomain,
  xlDisks,
  xlInteger,
  xlString,
  xlStringList,
  xlVifs,
} from "./fields.js";
import { parseXlConfig } from "./parser.js";

const cfg = (text: string) => parseXlConfig(text, "d.cfg");

function refused(read: () => unknown, message: string, line?: number): void {
  assert.throws(read, (error: unknown) => {
    assert.ok(isEtherplaneError(error, "INVALID_CONFIG"), String(error));
    assert.equal(error.message, message);
    if (line !== undefined) assert.equal(error.params.line, line);
    return true;
  });
}

describe("typed fields", () => {
  test("numbers may be bare or quoted, in any base", () => {
    assert.equal(xlInteger(cfg('memory = "512"'), "memory"), 512);
    assert.equal(xlInteger(cfg("memory = 0x200"), "memory"), 512);
    assert.equal(xlInteger(cfg("x = 1"), "memory"), undefined);
  });

  test("a string key may hold a bare number", () => {
    assert.equal(xlString(cfg("extra = 2"), "extra"), "2");
  });

  test("defaults: PV, destroy on power-off and crash, restart on reboot", () => {
    const domain = readXlDomain(cfg('name = "a"'));
    assert.deepEqual(
      [domain.type, domain.onPoweroff, domain.onReboot, domain.onCrash, domain.disks, domain.vifs],
      ["pv", "destroy", "restart", "destroy", [], []],
    );
    assert.equal(domainType(cfg('builder = "hvm"')), "hvm");
    assert.equal(domainType(cfg('type = "pvh"\nbuilder = "hvm"')), "pvh");
  });

  test("every lifecycle action xl knows", () => {
    for (const action of [
      "destroy",
      "restart",
      "preserve",
      "coredump-destroy",
      "coredump-restart",
      "rename-restart",
      "soft-reset",
    ]) {
      assert.equal(readXlDomain(cfg(`name = "a"\non_crash = "${action}"`)).onCrash, action);
    }
  });

  test("errors name the key, its line and the fix", () => {
    refused(
      () => readXlDomain(cfg("memory = 1")),
      'd.cfg: `name` is missing: every domain needs one, e.g. name = "web1"',
    );
    refused(
      () => readXlDomain(cfg('name = "a"\non_crash = "reboot"')),
      "d.cfg: line 2: `on_crash` is \"reboot\"; write one of 'destroy', 'restart', 'preserve', " +
        "'coredump-destroy', 'coredump-restart', 'rename-restart', 'soft-reset'",
      2,
    );
    refused(
      () => readXlDomain(cfg('name = "a"\nmemory = "lots"')),
      'd.cfg: line 2: `memory` must be a whole number: `lots` is not a number (decimal, octal with a leading 0 like 0755, or hex like 0x1f); quote it if it is text ("lots")',
      2,
    );
    refused(
      () => readXlDomain(cfg('name = "a"\nvcpus = 0')),
      "d.cfg: line 2: `vcpus` is 0; it must be between 1 and 9007199254740991",
      2,
    );
    refused(
      () => xlString(cfg("kernel = [ 'a' ]"), "kernel"),
      'd.cfg: line 1: `kernel` is a list but must be a single value: write kernel = "..."',
      1,
    );
    refused(
      () => domainType(cfg('type = "kvm"')),
      "d.cfg: line 1: `type` is \"kvm\"; write one of 'pv', 'pvh', 'hvm'",
      1,
    );
    refused(
      () => xlStringList(cfg("disk = [ 1 ]"), "disk"),
      "d.cfg: line 1: `disk` item 1 must be a quoted string: write disk = [ '...', '...' ]",
      1,
    );
  });

  test("a bad disk or vif names its item", () => {
    refused(
      () => xlDisks(cfg("disk = [ 'phy:/dev/a,xvda,w',\n 'phy:/dev/b,xvdb,x' ]")),
      'd.cfg: line 1: `disk` item 2: disk spec "phy:/dev/b,xvdb,x": access "x": use r, ro, w or rw',
      1,
    );
    refused(
      () => xlVifs(cfg("vif = [ 'mac=1' ]")),
      'd.cfg: line 1: `vif` item 1: vif spec "mac=1": mac=1: write six pairs of hex digits separated by colons, e.g. 00:16:3e:12:34:56',
      1,
    );
  });
});
