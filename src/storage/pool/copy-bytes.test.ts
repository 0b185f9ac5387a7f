/** The byte copy over in-memory files that read short, write short and fail on cue. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { copyBytes, type PositionalFile } from "./copy-bytes.js";

const KIB = 1024;

/** A file in memory that serves at most `ioBytesMax` per call and counts its writes. */
class MemoryFile implements PositionalFile {
  writes: Array<[number, number]> = [];
  failWriteAt: number | undefined;
  failReadAt: number | undefined;
  constructor(
    readonly bytes: Buffer,
    private readonly ioBytesMax = Infinity,
  ) {}

  async read(buffer: Buffer, offset: number, length: number, position: number) {
    await new Promise((resolve) => setImmediate(resolve));
    if (position === this.failReadAt) throw new Error("EIO (read)");
    const n = Math.max(0, Math.min(length, this.ioBytesMax, this.bytes.length - position));
    this.bytes.copy(buffer, offset, position, position + n);
    return { bytesRead: n };
  }

  async write(buffer: Buffer, offset: number, length: number, position: number) {
    await new Promise((resolve) => setImmediate(resolve));
    if (position === this.failWriteAt) throw new Error("EIO (write)");
    const n = Math.min(length, this.ioBytesMax);
    buffer.copy(this.bytes, position, offset, offset + n);
    this.writes.push([position, n]);
    return { bytesWritten: n };
  }
}

function sourceBytes(size: number): Buffer {
  const bytes = Buffer.alloc(size); // zero except for a few stretches
  bytes.fill(0xab, 5 * KIB, 9 * KIB);
  bytes.fill(0xcd, size - 100, size);
  return bytes;
}

test("copies every byte through short reads and writes, reporting progress to the end", async () => {
  const size = 64 * KIB + 512;
  const source = new MemoryFile(sourceBytes(size), 3000);
  const target = new MemoryFile(Buffer.alloc(size, 0xee), 3000);
  const calls: number[] = [];
  const { writtenBytes } = await copyBytes({
    source,
    target,
    sizeBytes: size,
    targetReadsZero: false,
    chunkBytes: 8 * KIB,
    progress: (done, total) => {
      assert.equal(total, size);
      calls.push(done);
    },
    sourceName: "src",
    targetName: "dst",
  });
  assert.ok(target.bytes.equals(source.bytes), "zeros written over the old bytes too");
  assert.equal(writtenBytes, size);
  assert.deepEqual(calls, [0, 8, 16, 24, 32, 40, 48, 56, 64].map((k) => k * KIB).concat(size));
});

test("into a zero-reading target, all-zero chunks are skipped (holes stay holes)", async () => {
  const size = 64 * KIB;
  const source = new MemoryFile(sourceBytes(size));
  const target = new MemoryFile(Buffer.alloc(size));
  const { writtenBytes } = await copyBytes({
    source,
    target,
    sizeBytes: size,
    targetReadsZero: true,
    chunkBytes: 4 * KIB,
    sourceName: "src",
    targetName: "dst",
  });
  assert.ok(target.bytes.equals(source.bytes));
  assert.deepEqual(
    target.writes.map(([at]) => at / KIB),
    [4, 8, 60],
  );
  assert.equal(writtenBytes, 12 * KIB);
});

test("a failing write, a failing read and a shrunk source are IO_ERRORs, never unhandled", async () => {
  const size = 64 * KIB;
  const request = (source: MemoryFile, target: MemoryFile) => ({
    source,
    target,
    sizeBytes: size,
    targetReadsZero: false,
    chunkBytes: 4 * KIB,
    sourceName: "src",
    targetName: "dst",
  });
  const failingTarget = new MemoryFile(Buffer.alloc(size));
  failingTarget.failWriteAt = 8 * KIB;
  await assert.rejects(
    copyBytes(request(new MemoryFile(sourceBytes(size)), failingTarget)),
    (e) => isEtherplaneError(e, "IO_ERROR") && /write of dst at byte 8192/.test(e.message),
  );
  const failingSource = new MemoryFile(sourceBytes(size));
  failingSource.failReadAt = 12 * KIB;
  await assert.rejects(
    copyBytes(request(failingSource, new MemoryFile(Buffer.alloc(size)))),
    (e) => isEtherplaneError(e, "IO_ERROR") && /read of src at byte 12288/.test(e.message),
  );
  await assert.rejects(
    copyBytes(request(new MemoryFile(sourceBytes(10 * KIB)), new MemoryFile(Buffer.alloc(size)))),
    (e) => isEtherplaneError(e, "IO_ERROR") && /ended at byte 10240/.test(e.message),
  );
});

test("chunk sizes outside 4 KiB..16 MiB, or not a multiple of 4 KiB, are refused", async () => {
  for (const chunkBytes of [0, 1000, 4097, 32 * 1024 * 1024]) {
    await assert.rejects(
      copyBytes({
        source: new MemoryFile(Buffer.alloc(8)),
        target: new MemoryFile(Buffer.alloc(8)),
        sizeBytes: 8,
        targetReadsZero: false,
        chunkBytes,
        sourceName: "src",
        targetName: "dst",
      }),
      (e) => isEtherplaneError(e, "INVALID_ARGUMENT"),
    );
  }
});
