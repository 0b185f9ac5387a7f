import assert from "node:assert/strict";
import { test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { parseSize } from "../args.js";
import { formatBytes, parseBytes } from "./bytes.js";

const K = 1024;
const M = K * K;
const G = M * K;

test("formatBytes: one letter, binary units, one decimal below 10", () => {
  const cases: Array<[number, string]> = [
    [0, "0B"],
    [512, "512B"],
    [1023, "1023B"],
    [K, "1.0K"],
    [1536, "1.5K"],
    [512 * M, "512M"],
    [1.5 * G, "1.5G"],
    [9 * G, "9.0G"],
    [20 * G, "20G"],
    [9.96 * G, "10G"],
    [1023.7 * M, "1.0G"],
    [3 * K * G, "3.0T"],
    [2 * K * K * G, "2.0P"],
    [-2 * G, "-2.0G"],
  ];
  for (const [n, text] of cases) assert.equal(formatBytes(n), text, `formatBytes(${n})`);
});

test("parseBytes: plain bytes, units with or without iB/B, sectors, fractions", () => {
  const cases: Array<[string, number]> = [
    ["0", 0],
    ["4096", 4096],
    ["4096B", 4096],
    ["64K", 64 * K],
    ["64k", 64 * K],
    ["64KiB", 64 * K],
    ["1M", M],
    ["20G", 20 * G],
    ["20 GB", 20 * G],
    ["1.5G", 1.5 * G],
    ["2T", 2 * K * G],
    ["8s", 4096],
    ["0.1K", 102],
    [" 2g ", 2 * G],
  ];
  for (const [text, n] of cases) assert.equal(parseBytes(text), n, `parseBytes(${text})`);
});

test("parseBytes refuses what is not a size, fractional bytes and sizes past 2^53", () => {
  for (const text of ["", "G", "-1G", "1.5", "1.5B", "1,5G", "20X", "1e3", "0x10", "1.G", "8sb"]) {
    assert.throws(
      () => parseBytes(text),
      (error: unknown) =>
        isEtherplaneError(error, "INVALID_ARGUMENT") &&
        error.message.includes("is not a size; write e.g."),
      `parseBytes(${JSON.stringify(text)})`,
    );
  }
  assert.throws(() => parseBytes("9P"), /too large/);
  assert.throws(() => parseBytes("99999999999999999999"), /too large/);
});

test("formatBytes then parseBytes round trips within the shown precision", () => {
  for (const n of [0, 1, 1000, K, 1536, 20 * G, 512 * M, 1.5 * G, 9 * G, 123456789, 7 * K * G]) {
    const back = parseBytes(formatBytes(n));
    // One decimal below 10 and whole numbers above: at most 5% off, exact for round sizes.
    assert.ok(Math.abs(back - n) <= n * 0.05, `${n} -> ${formatBytes(n)} -> ${back}`);
  }
  for (const n of [0, 512, 64 * K, 512 * M, 1.5 * G, 20 * G, 2 * K * G])
    assert.equal(parseBytes(formatBytes(n)), n);
});

test("parseSize (args.ts) names the flag", () => {
  assert.equal(parseSize("offset", "8s"), 4096);
  assert.throws(
    () => parseSize("length", "lots"),
    (error: unknown) =>
      isEtherplaneError(error, "INVALID_ARGUMENT") &&
      error.message.startsWith('--length: "lots" is not a size'),
  );
});
