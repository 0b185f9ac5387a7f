/**
 * The contract every StoragePool keeps (STYLE.md habit 3): one shared test, run against each
 * implementation (directories on tmpfs, ext4 and XFS with reflink; loop devices for BlockPool).
 * Each case opens a fresh, empty pool.
 */
import assert from "node:assert/strict";
import * as fsp from "node:fs/promises";
import { describe, test } from "node:test";
import { isEtherplaneError, type ErrorCode } from "../../foundation/errors.js";
import type { PoolVolume, StoragePool } from "./storage-pool.js";

export interface PoolUnderTest {
  pool: StoragePool;
  /** Another object over the same storage, as an agent restarted after a crash opens it. */
  reopen(): Promise<StoragePool>;
  /** Runs `clone(sourceId, targetId)` in another process and SIGKILLs it halfway through. */
  crashMidClone(sourceId: string, targetId: string): Promise<void>;
  /** What interrupted calls left behind (temporary files, "copying" claims), by name. */
  temporaries(): Promise<string[]>;
}

export interface StoragePoolContractOptions {
  /** Size of the volumes the cases make (a multiple of 64 KiB); the pool holds three of them. */
  volumeBytes: number;
  /** A volume is as big as its device and cannot grow past it (BlockPool). */
  fixedSize: boolean;
  /** Clones are reflinks (true) or byte copies (false). */
  reflink: boolean;
  /** A volume allocates only what was written (sparse files). */
  sparse: boolean;
}

const KIB64 = 64 * 1024;

function bytes(length: number, seed: number): Buffer {
  const buffer = Buffer.alloc(length);
  for (let i = 0; i < length; i++) buffer[i] = ((i * 31 + seed * 7 + (i >> 9)) & 0xff) | 1;
  return buffer;
}

async function readAt(file: string, offset: number, length: number): Promise<Buffer> {
  const handle = await fsp.open(file, "r");
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    assert.equal(bytesRead, length, `read ${length} bytes at ${offset} of ${file}`);
    return buffer;
  } finally {
    await handle.close();
  }
}

async function writeAt(file: string, offset: number, data: Buffer): Promise<void> {
  const handle = await fsp.open(file, "r+");
  try {
    await handle.write(data, 0, data.length, offset);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A volume without its allocation, which changes as bytes are written. */
function shape(volume: PoolVolume | undefined): Omit<PoolVolume, "allocatedBytes"> | undefined {
  if (!volume) return undefined;
  return { volumeId: volume.volumeId, path: volume.path, sizeBytes: volume.sizeBytes };
}

function isZero(buffer: Buffer): boolean {
  return buffer.every((b) => b === 0);
}

async function rejectsWith(call: () => Promise<unknown>, code: ErrorCode, what: string) {
  await assert.rejects(call, (error) => isEtherplaneError(error, code), `${what}: ${code}`);
}

export function storagePoolContract(
  name: string,
  open: () => Promise<PoolUnderTest>,
  options: StoragePoolContractOptions,
): void {
  const size = options.volumeBytes;
  /** Where the cases write: the start, an odd offset past the middle, the last 64 KiB. */
  const spots = [0, size / 2 + 777, size - KIB64];

  describe(`StoragePool contract: ${name}`, () => {
    test("create makes a zero-reading volume of the size asked; repeating it converges", async () => {
      const { pool } = await open();
      const volume = await pool.create("vol-a", size);
      assert.equal(volume.volumeId, "vol-a");
      if (options.fixedSize) assert.ok(volume.sizeBytes >= size, "at least the size asked");
      else assert.equal(volume.sizeBytes, size);
      for (const offset of [0, size / 2, volume.sizeBytes - KIB64]) {
        assert.ok(isZero(await readAt(volume.path, offset, KIB64)), `zeros at ${offset}`);
      }
      if (options.sparse) assert.ok(volume.allocatedBytes < size / 4, "a fresh volume is sparse");
      else assert.equal(volume.allocatedBytes, volume.sizeBytes);
      assert.deepEqual(await pool.create("vol-a", size), volume);
      assert.deepEqual(await pool.get("vol-a"), volume);
      await rejectsWith(() => pool.create("vol-a", size + KIB64), "CONFLICT", "another size");
    });

    test("invalid ids and sizes are refused, and nothing is made", async () => {
      const { pool } = await open();
      const badIds = ["", "A", "vol_a", "../etc", "a/b", ".tmp-a", "a.img", "x".repeat(65), "é"];
      for (const id of badIds) {
        const what = JSON.stringify(id);
        await rejectsWith(() => pool.create(id, size), "INVALID_ARGUMENT", `create ${what}`);
        await rejectsWith(() => pool.get(id), "INVALID_ARGUMENT", `get ${what}`);
        await rejectsWith(() => pool.resize(id, size), "INVALID_ARGUMENT", `resize ${what}`);
        await rejectsWith(() => pool.remove(id), "INVALID_ARGUMENT", `remove ${what}`);
        await rejectsWith(() => pool.clone("vol-a", id), "INVALID_ARGUMENT", `clone to ${what}`);
        await rejectsWith(() => pool.clone(id, "vol-a"), "INVALID_ARGUMENT", `clone of ${what}`);
      }
      for (const bad of [0, -512, 1000, 512.5, Number.NaN, Infinity, 2 ** 60]) {
        await rejectsWith(() => pool.create("vol-a", bad), "INVALID_ARGUMENT", `size ${bad}`);
      }
      await rejectsWith(
        () => pool.clone("vol-a", "vol-a"),
        "INVALID_ARGUMENT",
        "clone onto itself",
      );
      assert.deepEqual(await pool.list(), []);
    });

    test("resize grows and keeps the bytes; the same size is fine; shrinking is refused", async () => {
      const { pool } = await open();
      const volume = await pool.create("vol-a", size);
      const head = bytes(KIB64, 1);
      await writeAt(volume.path, 0, head);
      assert.deepEqual(shape(await pool.resize("vol-a", volume.sizeBytes)), shape(volume));
      await rejectsWith(() => pool.resize("vol-a", size - KIB64), "INVALID_ARGUMENT", "shrink");
      const bigger = volume.sizeBytes + size;
      if (options.fixedSize) {
        await rejectsWith(() => pool.resize("vol-a", bigger), "OUT_OF_RANGE", "past the device");
        assert.equal((await pool.get("vol-a"))?.sizeBytes, volume.sizeBytes);
      } else {
        const grown = await pool.resize("vol-a", bigger);
        assert.equal(grown.sizeBytes, bigger);
        assert.deepEqual(shape(await pool.get("vol-a")), shape(grown));
        assert.ok((await readAt(grown.path, 0, KIB64)).equals(head), "old bytes kept");
        assert.ok(isZero(await readAt(grown.path, volume.sizeBytes, KIB64)), "new bytes zero");
        assert.ok(isZero(await readAt(grown.path, bigger - KIB64, KIB64)), "new tail zero");
        assert.deepEqual(shape(await pool.resize("vol-a", bigger)), shape(grown), "converges");
      }
      await rejectsWith(() => pool.resize("vol-missing", size), "NOT_FOUND", "missing volume");
    });

    test("a clone holds the source's bytes as they were, after the source is written", async () => {
      const { pool } = await open();
      const source = await pool.create("vol-src", size);
      for (const [i, offset] of spots.entries()) await writeAt(source.path, offset, bytes(4096, i));
      const clone = await pool.clone("vol-src", "vol-dst");
      assert.equal(clone.volumeId, "vol-dst");
      assert.equal(clone.reflinked, options.reflink);
      assert.notEqual(clone.path, source.path);
      if (options.fixedSize) assert.ok(clone.sizeBytes >= source.sizeBytes);
      else assert.equal(clone.sizeBytes, source.sizeBytes);
      for (const [i, offset] of spots.entries())
        await writeAt(source.path, offset, bytes(4096, 9 + i));
      for (const [i, offset] of spots.entries()) {
        const back = await readAt(clone.path, offset, 4096);
        assert.ok(back.equals(bytes(4096, i)), `clone's bytes at ${offset} are the old ones`);
      }
      assert.ok(isZero(await readAt(clone.path, KIB64, KIB64)), "unwritten bytes read zero");
      assert.deepEqual(shape(await pool.get("vol-dst")), shape(clone));
      const again = await pool.clone("vol-src", "vol-dst");
      assert.equal(again.path, clone.path, "a target already there is fine");
      assert.ok((await readAt(clone.path, 0, 4096)).equals(bytes(4096, 0)), "and left alone");
      await rejectsWith(() => pool.clone("vol-missing", "vol-x"), "NOT_FOUND", "missing source");
      assert.equal(await pool.get("vol-x"), undefined);
    });

    test("a clone reports progress that rises to the source's size", async () => {
      const { pool } = await open();
      const source = await pool.create("vol-src", size);
      await writeAt(source.path, 0, bytes(KIB64, 3));
      const calls: Array<[number, number]> = [];
      const clone = await pool.clone("vol-src", "vol-dst", (done, total) =>
        calls.push([done, total]),
      );
      assert.deepEqual(calls.at(-1), [source.sizeBytes, source.sizeBytes]);
      for (const [i, [done, total]] of calls.entries()) {
        assert.equal(total, source.sizeBytes);
        assert.ok(done >= (calls[i - 1]?.[0] ?? 0) && done <= total, `call ${i}: ${done}`);
      }
      if (!clone.reflinked) assert.ok(calls.length > 2, `a byte copy reports as it goes`);
      if (options.sparse) assert.ok(clone.allocatedBytes < size / 4, "holes stay holes");
      assert.ok((await readAt(clone.path, 0, KIB64)).equals(bytes(KIB64, 3)));
    });

    test("list and get reflect the volumes; remove is idempotent", async () => {
      const under = await open();
      const { pool } = under;
      assert.deepEqual(await pool.list(), []);
      const b = await pool.create("vol-b", size);
      const a = await pool.create("vol-a", size);
      assert.deepEqual((await pool.list()).map(shape), [a, b].map(shape));
      await pool.remove("vol-a");
      await pool.remove("vol-a");
      await pool.remove("vol-never-made");
      assert.equal(await pool.get("vol-a"), undefined);
      assert.equal(await pool.get("vol-never-made"), undefined);
      assert.deepEqual((await pool.list()).map(shape), [shape(b)]);
      const reopened = await under.reopen();
      assert.deepEqual((await reopened.list()).map(shape), [shape(b)], "kept across a restart");
    });

    test("capacity numbers are sane", async () => {
      const { pool } = await open();
      const before = await pool.capacity();
      assert.ok(Number.isSafeInteger(before.totalBytes) && Number.isSafeInteger(before.freeBytes));
      assert.ok(before.totalBytes >= 3 * size, `total ${before.totalBytes}`);
      assert.ok(before.freeBytes >= 0 && before.freeBytes <= before.totalBytes);
      const volume = await pool.create("vol-a", size);
      const after = await pool.capacity();
      assert.equal(after.totalBytes, before.totalBytes);
      if (options.fixedSize) assert.equal(after.freeBytes, before.freeBytes - volume.sizeBytes);
      else assert.ok(after.freeBytes <= before.totalBytes);
    });

    test("an interrupted clone leaves a temporary that list ignores and cleanup removes", async () => {
      const under = await open();
      const source = await under.pool.create("vol-src", size);
      for (const [i, offset] of spots.entries()) await writeAt(source.path, offset, bytes(4096, i));
      await under.crashMidClone("vol-src", "vol-dst");
      const pool = await under.reopen();
      assert.ok((await under.temporaries()).length > 0, "the crash left a temporary");
      assert.equal(await pool.get("vol-dst"), undefined, "never a half-made volume");
      assert.deepEqual(
        (await pool.list()).map((v) => v.volumeId),
        ["vol-src"],
      );
      await pool.cleanup();
      assert.deepEqual(await under.temporaries(), []);
      await pool.cleanup(); // nothing left: fine
      const clone = await pool.clone("vol-src", "vol-dst"); // and the clone converges
      for (const [i, offset] of spots.entries()) {
        assert.ok((await readAt(clone.path, offset, 4096)).equals(bytes(4096, i)));
      }
    });

    test("cleanup leaves the temporaries of running calls alone", async () => {
      const under = await open();
      const { pool } = under;
      await pool.create("vol-src", size);
      await writeAt((await pool.get("vol-src"))?.path ?? "", 0, bytes(4096, 5));
      let cleaning: Promise<void> | undefined;
      const clone = await pool.clone("vol-src", "vol-dst", () => {
        cleaning ??= pool.cleanup(); // runs while the clone's temporary exists
      });
      await cleaning;
      assert.ok((await readAt(clone.path, 0, 4096)).equals(bytes(4096, 5)));
      assert.deepEqual(await under.temporaries(), []);
    });
  });
}
