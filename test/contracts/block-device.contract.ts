/**
 * The contract every BlockDevice keeps (STYLE.md habit 3): one shared test, run against each
 * implementation (files on tmpfs and ext4, with and without RWF_NOWAIT; AoE volumes over a link).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isEtherplaneError } from "../../src/foundation/errors.js";
import type { BlockDevice, VectoredBlockDevice } from "../../src/block/block-device.js";

function bytes(length: number, seed: number): Buffer {
  const buffer = Buffer.alloc(length);
  for (let i = 0; i < length; i++) buffer[i] = (i * 31 + seed * 7 + (i >> 9)) & 0xff;
  return buffer;
}

/**
 * `open` gives a fresh, zero-filled, writable device of `sizeBytes` (a multiple of 4096). Devices
 * that also implement VectoredBlockDevice (`vectored`) are tested on readv/writev too.
 */
export function blockDeviceContract(
  name: string,
  sizeBytes: number,
  open: () => Promise<BlockDevice>,
  options: { vectored?: boolean } = {},
): void {
  describe(`BlockDevice contract: ${name}`, () => {
    test("reports its size; a fresh device reads as zeros", async () => {
      const device = await open();
      try {
        assert.equal(device.sizeBytes, sizeBytes);
        const head = Buffer.alloc(8192, 0xff);
        await device.read(head, 0);
        assert.ok(head.every((b) => b === 0));
      } finally {
        await device.close();
      }
    });

    test("writes read back, aligned and unaligned, up to the last byte", async () => {
      const device = await open();
      try {
        const cases: Array<[number, number]> = [
          [0, 4096],
          [512 * 3, 1024],
          [777, 3000],
          [sizeBytes - 512, 512],
          [sizeBytes - 100, 100],
        ];
        for (const [offset, length] of cases) {
          const data = bytes(length, offset);
          await device.write(data, offset);
          const back = Buffer.alloc(length);
          await device.read(back, offset);
          assert.ok(back.equals(data), `${length} bytes at ${offset}`);
        }
        await device.flush();
      } finally {
        await device.close();
      }
    });

    test("concurrent writes to different places all land", async () => {
      const device = await open();
      try {
        const pieces = Array.from({ length: 32 }, (_, i) => ({
          offset: i * 8192,
          data: bytes(4096, i + 100),
        }));
        await Promise.all(pieces.map((p) => device.write(p.data, p.offset)));
        for (const p of pieces) {
          const back = Buffer.alloc(4096);
          await device.read(back, p.offset);
          assert.ok(back.equals(p.data), `piece at ${p.offset}`);
        }
      } finally {
        await device.close();
      }
    });

    test("past the end is OUT_OF_RANGE and changes nothing", async () => {
      const device = await open();
      try {
        const last = bytes(512, 9);
        await device.write(last, sizeBytes - 512);
        await assert.rejects(device.read(Buffer.alloc(512), sizeBytes), (e) =>
          isEtherplaneError(e, "OUT_OF_RANGE"),
        );
        await assert.rejects(device.write(Buffer.alloc(1024, 1), sizeBytes - 512), (e) =>
          isEtherplaneError(e, "OUT_OF_RANGE"),
        );
        const back = Buffer.alloc(512);
        await device.read(back, sizeBytes - 512);
        assert.ok(back.equals(last));
      } finally {
        await device.close();
      }
    });

    if (options.vectored) {
      test("readv/writev equal the single-buffer calls", async () => {
        const device = (await open()) as VectoredBlockDevice;
        try {
          const parts = [bytes(1024, 1), bytes(512, 2), bytes(2560, 3)];
          await device.writev(parts, 65536);
          const whole = Buffer.alloc(4096);
          await device.read(whole, 65536);
          assert.ok(whole.equals(Buffer.concat(parts)));
          const into = [Buffer.alloc(100), Buffer.alloc(3996)];
          await device.readv(into, 65536);
          assert.ok(Buffer.concat(into).equals(whole));
        } finally {
          await device.close();
        }
      });
    }
  });
}
