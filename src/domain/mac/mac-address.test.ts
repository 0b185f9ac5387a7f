import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { formatMac, isXenOui, macBytes, normalizeMac } from "./mac-address.js";

const refused = (text: string, pattern: RegExp) =>
  assert.throws(
    () => normalizeMac(text),
    (error) => isEtherplaneError(error, "INVALID_ARGUMENT") && pattern.test(error.message),
  );

describe("normalizeMac", () => {
  test("accepts colons or dashes in either case and returns lower-case colon form", () => {
    assert.equal(normalizeMac("00:16:3E:00:00:13"), "00:16:3e:00:00:13");
    assert.equal(normalizeMac("00-16-3e-00-00-13"), "00:16:3e:00:00:13");
    assert.equal(normalizeMac("00-16-3E-0A-bC-13"), "00:16:3e:0a:bc:13");
    assert.equal(normalizeMac(" 52:54:00:12:34:56\n"), "52:54:00:12:34:56");
    // Locally administered unicast is a valid vif address too.
    assert.equal(normalizeMac("02:00:00:00:00:01"), "02:00:00:00:00:01");
  });

  test("refuses what is not six pairs of hex digits, with the expected form in the message", () => {
    for (const text of [
      "",
      "00:16:3e:00:00",
      "00:16:3e:00:00:13:14",
      "00:16:3e:00:00:1",
      "0:16:3e:0:0:13",
      "00163e000013",
      "00:16-3e:00:00:13", // mixed separators
      "00:16:3e:00:00:1g",
      "00.16.3e.00.00.13",
      "00:16:3e:00:00:13 extra",
    ]) {
      refused(text, /six pairs of hex digits.*00:16:3e:12:34:56/);
    }
  });

  test("refuses multicast (and so broadcast) and the all-zero address", () => {
    refused("01:00:5e:00:00:01", /multicast/);
    refused("ff:ff:ff:ff:ff:ff", /multicast/);
    refused("33-33-00-00-00-01", /multicast/);
    refused("00:00:00:00:00:00", /all zeros/);
  });

  test("a huge input is cut short in the message", () => {
    assert.throws(
      () => normalizeMac("a".repeat(100_000)),
      (error) => isEtherplaneError(error) && error.message.length < 300,
    );
  });
});

describe("isXenOui", () => {
  test("true for 00:16:3e in any accepted form, false otherwise and for non-MACs", () => {
    assert.equal(isXenOui("00:16:3e:7f:ff:ff"), true);
    assert.equal(isXenOui("00-16-3E-80-00-00"), true);
    assert.equal(isXenOui("00:16:3f:00:00:01"), false);
    assert.equal(isXenOui("52:54:00:12:34:56"), false);
    assert.equal(isXenOui("00:16:3e"), false);
    assert.equal(isXenOui("not a mac"), false);
  });
});

describe("macBytes and formatMac", () => {
  test("round trip", () => {
    assert.deepEqual(macBytes("00-16-3E-0a-00-FF"), [0, 0x16, 0x3e, 0x0a, 0, 0xff]);
    assert.equal(formatMac(macBytes("00:16:3e:0a:00:ff")), "00:16:3e:0a:00:ff");
  });

  test("formatMac refuses a wrong length or a value that is not a byte", () => {
    assert.throws(() => formatMac([0, 1, 2, 3, 4]), /not 6 bytes/);
    assert.throws(() => formatMac([0, 1, 2, 3, 4, 256]), /not 6 bytes/);
    assert.throws(() => formatMac([0, 1, 2, 3, 4, 1.5]), /not 6 bytes/);
  });
});
