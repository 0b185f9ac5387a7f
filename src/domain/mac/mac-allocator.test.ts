import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { isXenOui, normalizeMac } from "./mac-address.js";
import { allocateMac, XEN_MAC_SPACE_SIZE, type MacRandom } from "./mac-allocator.js";

/** Replays `draws` (each three bytes), then fails the test if asked for more. */
function scriptedBytes(draws: number[][]): MacRandom & { calls: number } {
  const source = Object.assign(
    (count: number) => {
      assert.equal(count, 3);
      const next = draws[source.calls];
      source.calls += 1;
      assert.ok(next, `random source asked for draw ${source.calls}, only ${draws.length} given`);
      return Uint8Array.from(next);
    },
    { calls: 0 },
  );
  return source;
}

/** A seeded xorshift32 float source, so a run is reproducible from its seed. */
function seededFloats(seed: number): MacRandom {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
}

describe("allocateMac", () => {
  test("uses libxl's layout: 00:16:3e, r[0] & 0x7f, r[1], r[2]", () => {
    assert.equal(allocateMac(new Set(), scriptedBytes([[0xff, 0xab, 0xcd]])), "00:16:3e:7f:ab:cd");
    assert.equal(allocateMac(new Set(), scriptedBytes([[0x12, 0x00, 0x01]])), "00:16:3e:12:00:01");
  });

  test("draws again when the MAC is used, whatever form `used` holds it in", () => {
    const random = scriptedBytes([
      [0x00, 0x00, 0x13],
      [0x80, 0x00, 0x14], // 0x80 & 0x7f = 0: 00:16:3e:00:00:14, also used
      [0x00, 0x00, 0x15],
    ]);
    const used = new Set(["00-16-3E-00-00-13", "00:16:3e:00:00:14", "52:54:00:00:00:15"]);
    assert.equal(allocateMac(used, random), "00:16:3e:00:00:15");
    assert.equal(random.calls, 3);
  });

  test("is deterministic for a seeded source, and always in the Xen half-OUI", () => {
    const first = Array.from({ length: 5 }, (_, i) => allocateMac(new Set(), seededFloats(i + 1)));
    const again = Array.from({ length: 5 }, (_, i) => allocateMac(new Set(), seededFloats(i + 1)));
    assert.deepEqual(again, first);
    assert.equal(new Set(first).size, 5);
    for (const mac of first) {
      assert.ok(isXenOui(mac));
      assert.ok(Number.parseInt(mac.slice(9, 11), 16) < 0x80, mac);
    }
  });

  test("many allocations against a growing used set are all distinct (crypto source)", () => {
    const used = new Set<string>();
    for (let i = 0; i < 2000; i += 1) {
      const mac = allocateMac(used, randomBytes);
      assert.equal(normalizeMac(mac), mac);
      assert.ok(!used.has(mac));
      used.add(mac);
    }
  });

  test("falls back to a sequential scan after attemptsMax misses, wrapping around", () => {
    // Space of 8: indexes 0..7. Used: everything but index 1. Draws always hit index 6.
    const used = new Set([0, 2, 3, 4, 5, 6, 7].map((i) => `00:16:3e:00:00:0${i}`));
    const random = scriptedBytes(Array.from({ length: 4 }, () => [0, 0, 6]));
    assert.equal(allocateMac(used, random, { spaceSize: 8, attemptsMax: 4 }), "00:16:3e:00:00:01");
    assert.equal(random.calls, 4);
  });

  test("CONFLICT when the (small) space is exhausted, naming its range and the way out", () => {
    const used = new Set(["00:16:3e:00:00:00", "00:16:3e:00:00:01", "00:16:3e:00:00:02"]);
    assert.throws(
      () => allocateMac(used, scriptedBytes([]), { spaceSize: 3 }),
      (error) =>
        isEtherplaneError(error, "CONFLICT") &&
        /all 3 MAC addresses from 00:16:3e:00:00:00 to 00:16:3e:00:00:02/.test(error.message) &&
        /explicit mac=/.test(error.message),
    );
  });

  test("MACs outside the space do not count towards exhaustion", () => {
    const used = new Set(["00:16:3e:00:00:00", "00:16:3e:80:00:01", "52:54:00:00:00:01"]);
    assert.equal(
      allocateMac(used, scriptedBytes([[0, 0, 0]]), { spaceSize: 2, attemptsMax: 1 }),
      "00:16:3e:00:00:01",
    );
  });

  test("refuses a used entry that is not a MAC, and bad options or sources", () => {
    assert.throws(
      () => allocateMac(new Set(["00163e000013"]), randomBytes),
      (error) => isEtherplaneError(error, "INVALID_ARGUMENT") && /00163e000013/.test(error.message),
    );
    assert.throws(() => allocateMac(new Set(), randomBytes, { spaceSize: 0 }), /spaceSize/);
    assert.throws(
      () => allocateMac(new Set(), randomBytes, { spaceSize: XEN_MAC_SPACE_SIZE + 1 }),
      /spaceSize/,
    );
    assert.throws(() => allocateMac(new Set(), randomBytes, { attemptsMax: -1 }), /attemptsMax/);
    assert.throws(() => allocateMac(new Set(), () => 1), /not \[0, 1\)/);
    assert.throws(() => allocateMac(new Set(), () => new Uint8Array(2)), /2 bytes/);
  });
});
