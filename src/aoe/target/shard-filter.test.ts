import assert from "node:assert/strict";
import { test } from "node:test";
import { AOE_ETHERTYPE } from "../codec/header.js";
import { encodeBpf, runBpf, shardProgram, workerOfExport } from "./shard-filter.js";

/** An AoE request header addressed to shelf.slot (the rest does not matter to the filter). */
function frameTo(shelf: number, slot: number): Buffer {
  const frame = Buffer.alloc(60);
  frame.writeUInt16BE(AOE_ETHERTYPE, 12);
  frame.writeUInt8(0x10, 14);
  frame.writeUInt16BE(shelf, 16);
  frame.writeUInt8(slot, 18);
  return frame;
}

const accepted = (index: number, workers: number, frame: Buffer) =>
  runBpf(shardProgram(index, workers), frame) > 0;

test("each export's frames go to exactly one worker, the one workerOfExport names", () => {
  for (const workers of [1, 2, 3, 7]) {
    for (const [shelf, slot] of [
      [0, 0],
      [1, 0],
      [1, 1],
      [1, 2],
      [300, 254],
      [0xfffe, 0xfe],
    ] as const) {
      const takers = [...Array(workers).keys()].filter((i) =>
        accepted(i, workers, frameTo(shelf, slot)),
      );
      assert.deepEqual(
        takers,
        [workerOfExport(shelf, slot, workers)],
        `${shelf}.${slot}/${workers}`,
      );
    }
  }
  // Neighbouring slots of one shelf alternate between two workers.
  assert.notEqual(workerOfExport(1, 0, 2), workerOfExport(1, 1, 2));
});

test("broadcast-addressed frames (discovery) reach every worker", () => {
  for (const [shelf, slot] of [
    [0xffff, 0xff],
    [0xffff, 3],
    [1, 0xff],
  ] as const) {
    for (let i = 0; i < 3; i++) assert.equal(accepted(i, 3, frameTo(shelf, slot)), true);
  }
});

test("a frame too short to hold the address is refused, like the kernel's filter does", () => {
  assert.equal(accepted(0, 1, frameTo(1, 0).subarray(0, 18)), false);
  assert.equal(accepted(0, 1, frameTo(1, 0).subarray(0, 17)), false);
});

test("bad worker counts and indexes are refused with the bound", () => {
  assert.throws(() => shardProgram(0, 0), /workers must be an integer in \[1, 64\]/);
  assert.throws(() => shardProgram(2, 2), /worker index must be an integer in \[0, 1\]/);
  assert.throws(() => shardProgram(0, 1.5), /workers must be/);
});

test("encodeBpf lays out struct sock_filter: u16 code, u8 jt, u8 jf, u32 k", () => {
  const bytes = encodeBpf([{ code: 0x15, jt: 8, jf: 2, k: 0xffff }]);
  assert.equal(bytes.length, 8);
  assert.equal(bytes.readUInt16LE(0), 0x15);
  assert.deepEqual([bytes[2], bytes[3]], [8, 2]);
  assert.equal(bytes.readUInt32LE(4), 0xffff);
  assert.equal(encodeBpf(shardProgram(1, 4)).length, 11 * 8);
});
