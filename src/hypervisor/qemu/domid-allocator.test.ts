import assert from "node:assert/strict";
import { test } from "node:test";
import { domidMax, nextDomid } from "./domid-allocator.js";

void test("domids: the next after the last given, skipping used ones, wrapping before the reserved range", () => {
  assert.equal(nextDomid(0, new Set()), 1);
  assert.equal(nextDomid(5, new Set()), 6);
  assert.equal(nextDomid(5, new Set([6, 7])), 8);
  assert.equal(nextDomid(domidMax, new Set()), 1, "a counter at the top wraps to 1");
  assert.equal(nextDomid(domidMax - 1, new Set([domidMax])), 1);
  assert.equal(nextDomid(Number.NaN, new Set([1])), 2, "an unreadable counter starts from 0");
  assert.equal(nextDomid(-4, new Set()), 1);
  const all = new Set(Array.from({ length: domidMax }, (_, index) => index + 1));
  assert.equal(nextDomid(3, all), undefined);
});
