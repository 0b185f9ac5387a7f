/**
 * AoeTarget.stop() with writes in flight on a slow disk: every admitted write completes and is
 * answered before the sockets close; frames arriving after the stop are dropped, not executed.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { after, before, test } from "node:test";
import { createAoeBench, pattern, type AoeBench } from "../../../test/lab/aoe-lab.js";
import { createLogger } from "../../foundation/log.js";
import type { VectoredBlockDevice } from "../../block/block-device.js";
import { openFileBlockDevice } from "../../block/file/file-block-device.js";

/** A real file whose writes take `delayMs` longer: a slow disk, so that stop() has work to drain. */
function slowWrites(device: VectoredBlockDevice, delayMs: number): VectoredBlockDevice {
  const later = <T>(work: () => Promise<T>) =>
    new Promise<void>((r) => setTimeout(r, delayMs)).then(work);
  return {
    sizeBytes: device.sizeBytes,
    readOnly: device.readOnly,
    read: (b, o) => device.read(b, o),
    readv: (b, o) => device.readv(b, o),
    write: (b, o) => later(() => device.write(b, o)),
    writev: (b, o) => later(() => device.writev(b, o)),
    flush: () => device.flush(),
    close: () => device.close(),
  };
}

let link: AoeBench;
before(async () => {
  link = await createAoeBench("drain", { diskBytes: 4 * 1024 * 1024 });
});
after(async () => link?.close());

test("stop() drains in-flight writes on a slow disk and answers them", async () => {
  const target = await link.serve(
    "4.2",
    {},
    {
      openDevice: async (file, options) =>
        slowWrites(await openFileBlockDevice(file, options), 300),
      log: createLogger("test:drain"),
    },
  );
  const initiator = link.initiator();
  try {
    const device = await initiator.openDevice(4, 2, { requestTimeoutMs: 3000 });
    const data = pattern(256 * 1024, 3); // more frames than the window of 64: not all can be admitted
    // Replies to frames the initiator has since retransmitted arrive under their old tags (stale).
    const answered = () =>
      initiator.engine.counters.replies + initiator.engine.counters.staleReplies;
    const repliesBefore = answered();
    const write = device.write(data, 0).then(
      () => "acknowledged",
      (error: Error) => error.message,
    );
    const inFlight = () => target.stats().exports[0]?.counters.inFlight ?? 0;
    while (inFlight() === 0) await new Promise((r) => setTimeout(r, 5));
    const admitted = inFlight();
    await target.stop();
    const written = target.stats().exports[0]?.counters.writtenBytes ?? 0;
    assert.equal(written, admitted * 1024, "every admitted write completed before stop() returned");
    assert.ok(fs.readFileSync(link.disk).subarray(0, written).equals(data.subarray(0, written)));
    // The admitted writes were answered before the sockets closed...
    const deadline = Date.now() + 2000;
    while (answered() - repliesBefore < admitted && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(answered() - repliesBefore, admitted);
    // ...and frames not admitted before the stop were not executed: the write is not acknowledged.
    assert.notEqual(await write, "acknowledged");
  } finally {
    initiator.close();
  }
});
