/**
 * AoeTarget.stop() with writes in flight on a slow disk: every admitted write completes and is
 * answered before the sockets close; frames arriving after the stop are dropped, not executed.
 * The scenario is drain-cases.ts, which target-drain.test.ts runs on the simulator.
 */
import * as fs from "node:fs";
import { after, before, test } from "node:test";
import { createAoeBench, type AoeBench } from "../../../test/lab/aoe-lab.js";
import { createLogger } from "../../foundation/log.js";
import type { VectoredBlockDevice } from "../../block/block-device.js";
import { openFileBlockDevice } from "../../block/file/file-block-device.js";
import { drainAdmittedWrites } from "../testing/drain-cases.js";

/** How long a condition may take (generous: the machine may be loaded). */
const WAIT_MS = 60_000;

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
  await drainAdmittedWrites({
    target,
    initiator: link.initiator(),
    run: (promise) => promise,
    until: async (done, what) => {
      const deadline = Date.now() + WAIT_MS;
      while (!done()) {
        if (Date.now() > deadline) throw new Error(`${what}: not within ${WAIT_MS} ms`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    diskBytes: () => fs.readFileSync(link.disk),
    seed: 3,
  });
});
