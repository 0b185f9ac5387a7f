import assert from "node:assert/strict";
import { test } from "node:test";
import {
  checkAoeAddress,
  formatAoeAddress,
  isAoeAddressProblem,
  readAoeAddress,
  readEtherdPath,
} from "./address.js";

void test("S.L and eS.L read as shelf and slot, up to the last non-broadcast values", () => {
  assert.deepEqual(readAoeAddress("1.0"), { shelf: 1, slot: 0 });
  assert.deepEqual(readAoeAddress("e7.3"), { shelf: 7, slot: 3 });
  assert.deepEqual(readAoeAddress("65534.254"), { shelf: 65534, slot: 254 });
  assert.equal(formatAoeAddress({ shelf: 65534, slot: 254 }), "e65534.254");
});

void test("junk is a syntax problem, broadcast and larger values a range problem, each with a fix", () => {
  for (const bad of ["", "1", "a.b", "1.0.0", "E1.0", " 1.0", "123456.0", "1.1000", 7, null]) {
    const reading = readAoeAddress(bad);
    assert.ok(isAoeAddressProblem(reading), String(bad));
    assert.equal(reading.kind, "syntax", String(bad));
    assert.match(reading.problem, /is not an AoE address/);
    assert.match(reading.fix, /shelf\.slot/);
  }
  const shelf = readAoeAddress("65535.0");
  assert.ok(isAoeAddressProblem(shelf));
  assert.deepEqual(shelf, {
    kind: "range",
    problem: "shelf 65535 is out of range",
    fix: "use 0-65534 (0xFFFF is broadcast)",
  });
  const slot = readAoeAddress("e1.255");
  assert.ok(isAoeAddressProblem(slot));
  assert.equal(slot.problem, "slot 255 is out of range");
  assert.equal(checkAoeAddress({ shelf: -1, slot: 0 })?.kind, "range");
  assert.equal(checkAoeAddress({ shelf: 1.5, slot: 0 })?.kind, "range");
  assert.equal(checkAoeAddress({ shelf: 0, slot: 0 }), undefined);
});

void test("/dev/etherd/eS.L paths name their address; other paths none", () => {
  assert.deepEqual(readEtherdPath("/dev/etherd/e12.3"), { shelf: 12, slot: 3 });
  for (const other of ["/dev/etherd/12.3", "/dev/etherd/e1.0p1", "/dev/xenimages/e1.0", "e1.0"]) {
    assert.equal(readEtherdPath(other), undefined, other);
  }
});
