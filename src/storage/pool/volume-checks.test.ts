import assert from "node:assert/strict";
import { test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { checkCloneIds, checkSizeBytes, checkVolumeId, VOLUME_BYTES_MAX } from "./volume-checks.js";

const invalid = (e: unknown) => isEtherplaneError(e, "INVALID_ARGUMENT");

test("volume ids: 1-64 of a-z, 0-9 and '-', nothing that could leave the pool", () => {
  for (const id of ["a", "vol-1b9d6bcd", "0", "-", "x".repeat(64)]) checkVolumeId(id);
  for (const id of [
    "",
    "A",
    "a_b",
    "a.img",
    ".tmp-a",
    "../a",
    "a/b",
    "a\0",
    " a",
    "x".repeat(65),
  ]) {
    assert.throws(() => checkVolumeId(id), invalid, JSON.stringify(id));
  }
  assert.throws(() => checkVolumeId(7 as unknown as string), invalid);
});

test("sizes: whole sectors, positive, at most 1 PiB, safe integers", () => {
  for (const size of [512, 4096, VOLUME_BYTES_MAX]) checkSizeBytes(size);
  for (const size of [0, -512, 511, 513, 1.5, NaN, Infinity, VOLUME_BYTES_MAX + 512]) {
    assert.throws(() => checkSizeBytes(size), invalid, String(size));
  }
});

test("a clone needs two valid, different ids", () => {
  checkCloneIds("a", "b");
  assert.throws(() => checkCloneIds("a", "a"), invalid);
  assert.throws(() => checkCloneIds("a", "B"), invalid);
});
