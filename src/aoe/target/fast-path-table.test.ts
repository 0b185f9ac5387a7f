import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  admittedSources,
  encodeFastPathTable,
  FAST_PATH_ADMITTED_MAX,
  FAST_PATH_ENTRY_BYTES,
  FAST_PATH_HEADER_BYTES,
} from "./fast-path-table.js";

const mac = (last: number) => Buffer.from([2, 0, 0, 0, 0, last]);

describe("fast path table", () => {
  test("the layout native/af_packet/af-packet.h documents, sorted by shelf.slot", () => {
    const table = encodeFastPathTable(mac(0xaa), 2, [
      {
        shelf: 7,
        slot: 1,
        fd: 12,
        sectors: 2 ** 40 + 3,
        memoryBacked: false,
        admitted: [mac(1)],
        writable: true,
      },
      { shelf: 1, slot: 9, fd: 3, sectors: 100, memoryBacked: true, admitted: undefined },
    ]);
    assert.equal(FAST_PATH_ENTRY_BYTES, 128);
    assert.equal(table.length, FAST_PATH_HEADER_BYTES + 2 * FAST_PATH_ENTRY_BYTES);
    assert.equal(table.readUInt32LE(0), 2, "count");
    assert.equal(table.readUInt32LE(4), 2, "sectors per frame");
    assert.deepEqual(table.subarray(8, 14), mac(0xaa));
    const first = FAST_PATH_HEADER_BYTES;
    assert.equal(table.readUInt16LE(first), 1, "1.9 first");
    assert.equal(table[first + 2], 9);
    assert.equal(table[first + 3], 1 | 2, "memory-backed, anyone");
    assert.equal(table.readInt32LE(first + 4), 3);
    assert.equal(table.readBigUInt64LE(first + 8), 100n);
    assert.equal(table.readUInt32LE(first + 16), 0);
    const second = first + FAST_PATH_ENTRY_BYTES;
    assert.equal(table.readUInt16LE(second), 7);
    assert.equal(table[second + 3], 4, "on disk, restricted, writable");
    assert.equal(table.readBigUInt64LE(second + 8), 2n ** 40n + 3n);
    assert.equal(table.readUInt32LE(second + 16), 1);
    assert.deepEqual(table.subarray(second + 32, second + 38), mac(1));
  });

  test("admitted sources: mask list and reservation together", () => {
    assert.equal(admittedSources([], []), undefined, "anyone");
    assert.deepEqual(admittedSources([mac(1), mac(2)], []), [mac(1), mac(2)]);
    assert.deepEqual(admittedSources([], [mac(3)]), [mac(3)]);
    assert.deepEqual(admittedSources([mac(1), mac(2)], [mac(2), mac(3)]), [mac(2)]);
    assert.deepEqual(admittedSources([mac(1)], [mac(3)]), [], "no one");
    const long = Array.from({ length: FAST_PATH_ADMITTED_MAX + 1 }, (_, i) => mac(i));
    assert.equal(admittedSources(long, []), null, "too long: the export stays in TypeScript");
  });

  test("a program bug (bad fd, too many MACs) is asserted, not encoded", () => {
    const entry = { shelf: 1, slot: 0, fd: -1, sectors: 1, memoryBacked: false, admitted: [] };
    assert.throws(() => encodeFastPathTable(mac(0), 2, [entry]), /fd/);
    const many = Array.from({ length: FAST_PATH_ADMITTED_MAX + 1 }, (_, i) => mac(i));
    assert.throws(
      () => encodeFastPathTable(mac(0), 2, [{ ...entry, fd: 3, admitted: many }]),
      /admitted/,
    );
  });
});
