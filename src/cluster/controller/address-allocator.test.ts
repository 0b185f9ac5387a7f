import assert from "node:assert/strict";
import { test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { allocateAddress, checkAddressFree, parseAoeAddress } from "./address-allocator.js";

test("allocation takes the first free slot, shelf by shelf, and never a broadcast value", () => {
  assert.deepEqual(allocateAddress([]), { shelf: 1, slot: 0 });
  assert.deepEqual(
    allocateAddress([
      { shelf: 1, slot: 0 },
      { shelf: 1, slot: 2 },
    ]),
    { shelf: 1, slot: 1 },
  );
  const fullShelf = Array.from({ length: 255 }, (_, slot) => ({ shelf: 1, slot }));
  assert.deepEqual(allocateAddress(fullShelf), { shelf: 2, slot: 0 });
});

test("parsing accepts S.L and eS.L, refuses broadcast and junk naming the field", () => {
  assert.deepEqual(parseAoeAddress("e7.3"), { shelf: 7, slot: 3 });
  for (const bad of ["65535.0", "1.255", "1", "a.b", "1.0.0"]) {
    assert.throws(
      () => parseAoeAddress(bad, "address"),
      (e) => isEtherplaneError(e, "INVALID_ARGUMENT") && e.params["field"] === "address",
      bad,
    );
  }
});

test("a taken or foreign address is a conflict that says which", () => {
  assert.throws(
    () => checkAddressFree({ shelf: 1, slot: 1 }, [{ shelf: 1, slot: 1 }], []),
    /already used by another volume/,
  );
  assert.throws(
    () => checkAddressFree({ shelf: 9, slot: 9 }, [], [{ shelf: 9, slot: 9 }]),
    /does not manage/,
  );
  assert.doesNotThrow(() =>
    checkAddressFree({ shelf: 2, slot: 0 }, [{ shelf: 1, slot: 0 }], [{ shelf: 3, slot: 0 }]),
  );
});
