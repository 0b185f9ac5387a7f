import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { overlapLength, readFileTail, splitBacklog, TailBuffer } from "./console-history.js";

const b = (text: string) => Buffer.from(text);

/** The plain definition, for comparing with the linear-time one. */
function overlapNaive(history: Buffer, replay: Buffer): number {
  for (let k = Math.min(history.length, replay.length); k > 0; k--) {
    if (replay.subarray(0, k).equals(history.subarray(history.length - k))) return k;
  }
  return 0;
}

describe("console history", () => {
  test("a backlog found in a log that ran ahead ends the history there; the rest comes live", () => {
    const log = b("boot\r\ntick 1\r\ntick 2\r\ntick 3\r\n");
    // xenconsoled logged tick 3 but had not yet written it to the pty when the replay ended.
    const ahead = splitBacklog(log, b("tick 1\r\ntick 2\r\n"));
    assert.equal(ahead.history.toString(), "boot\r\ntick 1\r\ntick 2\r\n");
    assert.equal(ahead.first.length, 0);
    // The backlog is the end of the log: all of it is history.
    assert.deepEqual(splitBacklog(log, b("tick 3\r\n")), { history: log, first: b("") });
    // Bytes after the log's end are live; the repeated prefix is dropped.
    const newer = splitBacklog(log, b("tick 3\r\ntick 4\r\n"));
    assert.equal(newer.history, log);
    assert.equal(newer.first.toString(), "tick 4\r\n");
    // Nothing replayed.
    assert.deepEqual(splitBacklog(log, b("")), { history: log, first: b("") });
  });

  test("the replayed backlog's repeat of the log's end is found", () => {
    const log = b("boot\r\ntick 1\r\ntick 2\r\n");
    assert.equal(overlapLength(log, b("tick 1\r\ntick 2\r\n")), 16);
    assert.equal(overlapLength(log, b("tick 2\r\ntick 3\r\n")), 8, "new bytes after the repeat");
    assert.equal(overlapLength(log, b("tick 3\r\n")), 0, "nothing repeated");
    assert.equal(overlapLength(log, b("boot\r\ntick 1\r\ntick 2\r\nmore")), log.length);
    assert.equal(overlapLength(b(""), b("x")), 0);
    assert.equal(overlapLength(log, b("")), 0);
  });

  test("agrees with the naive definition on repetitive random bytes", () => {
    let seed = 7;
    const random = (n: number) =>
      Buffer.from(
        Array.from({ length: n }, () => {
          seed = (seed * 1103515245 + 12345) & 0x7fffffff;
          return 97 + (seed % 3); // a, b, c: plenty of partial matches
        }),
      );
    for (let i = 0; i < 300; i++) {
      const history = random(1 + (i % 40));
      const replay = Buffer.concat([history.subarray(i % history.length), random(i % 7)]);
      assert.equal(overlapLength(history, replay), overlapNaive(history, replay), `case ${i}`);
    }
  });

  const dir = mkdtemp(join(tmpdir(), "ep-console-history-"));
  after(async () => rm(await dir, { recursive: true, force: true }));

  test("reads the last bytes of a log, or null without one", async () => {
    const path = join(await dir, "guest-a.log");
    assert.equal(await readFileTail(path, 64), null);
    await writeFile(path, "0123456789");
    assert.equal((await readFileTail(path, 64))?.toString(), "0123456789");
    assert.equal((await readFileTail(path, 4))?.toString(), "6789");
  });

  test("the tail buffer keeps the last bytes appended", () => {
    const tail = new TailBuffer(8);
    for (const chunk of ["abc", "defg", "hij", "k"]) tail.append(b(chunk));
    assert.equal(tail.contents().toString(), "defghijk");
    tail.append(b("0123456789ABC"));
    assert.equal(tail.contents().toString(), "56789ABC");
  });
});
