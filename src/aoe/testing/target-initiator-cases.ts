/**
 * The initiator-against-target scenarios that run both on the simulator
 * (target-initiator.test.ts) and on real veth links (target-initiator.integ.test.ts), written
 * once: each file declares its tests in its own order and adds what only its link can check.
 */
import assert from "node:assert/strict";
import { formatAoeStat } from "../../cli/aoe/discover.js";
import { isEtherplaneError } from "../../foundation/errors.js";
import { pattern } from "../../../test/sim/pattern.js";
import { SECTOR_BYTES } from "../codec/index.js";
import type { AoeInitiator } from "../initiator/aoe-initiator.js";
import type { AoeTarget } from "../target/aoe-target.js";

const MiB = 1024 * 1024;

/** The bytes of the read-only export 1.1: a pattern of an odd size. */
export const SMALL_EXPORT_BYTES = MiB + 3 * SECTOR_BYTES;
export const smallExportContent = (): Buffer => pattern(SMALL_EXPORT_BYTES, 99);

/**
 * A target serving 1.0 (`diskBytes`, model "test disk", serial "T-1-0") and 1.1 (read-only,
 * smallExportContent()) on tgt0 and tgt1, linked to ini0 and ini1.
 */
export interface TargetInitiatorBench {
  target: AoeTarget;
  diskBytes: number;
  /** 1.0's size as aoe-stat prints it, e.g. "0.017". */
  diskGb: string;
  /** What the backing of 1.0 or 1.1 holds now. */
  bytesOf(address: "1.0" | "1.1"): Buffer;
  initiator(ifnames: string[]): AoeInitiator;
  /** Runs a promise to its end (the simulator drives its clock meanwhile). */
  run<T>(promise: Promise<T>): Promise<T>;
  /** Patterns are drawn from this seed (the simulator's, printed). */
  seed: number;
  /** Raises tgt0's and ini0's MTU to 9000 and returns once the target knows. */
  jumbo(): Promise<void>;
}

export async function discoversBothExports(b: TargetInitiatorBench): Promise<void> {
  const targets = await b.run(b.initiator(["ini0"]).discover({ listenMs: 300 }));
  assert.deepEqual(
    targets.map((t) => `${t.shelf}.${t.slot}`),
    ["1.0", "1.1"],
  );
  const [first, second] = targets;
  assert.equal(first?.identify?.sectors, b.diskBytes / SECTOR_BYTES);
  assert.equal(second?.identify?.sectors, SMALL_EXPORT_BYTES / SECTOR_BYTES);
  assert.equal(first?.paths[0]?.bufferCount, 64);
  assert.equal(first?.identify?.model, "test disk");
  assert.equal(first?.identify?.serial, "T-1-0");
  const lines = formatAoeStat(targets).split("\n");
  const size = b.diskGb.replace(".", "\\.");
  assert.match(lines[0] ?? "", new RegExp(`^\\s+e1\\.0\\s+${size}GB {2}ini0 1024 {2}up$`));
  assert.match(lines[1] ?? "", /^\s+e1\.1\s+0\.001GB {2}ini0 1024 {2}up$/);
}

export async function wholeDevicePattern(b: TargetInitiatorBench): Promise<void> {
  const device = await b.run(b.initiator(["ini0"]).openDevice(1, 0));
  const data = pattern(device.sizeBytes, b.seed + 1);
  await b.run(device.write(data, 0));
  const back = Buffer.alloc(device.sizeBytes);
  await b.run(device.read(back, 0));
  assert.ok(back.equals(data), `seed ${b.seed}: read-back equals the pattern`);
  assert.ok(b.bytesOf("1.0").equals(data), `seed ${b.seed}: the disk holds the pattern`);
  // The target served many requests at once, not one at a time as vblade does.
  const counters = b.target.stats().exports.find((e) => e.address === "1.0")?.counters;
  assert.ok(
    counters && counters.inFlightMax >= 32,
    `requests in flight at once: ${counters?.inFlightMax}`,
  );
  assert.ok(
    counters.ioCalls < counters.readRequests + counters.writeRequests,
    "adjacent frames shared I/O calls",
  );
}

export async function readOnlyExport(b: TargetInitiatorBench): Promise<void> {
  const device = await b.run(b.initiator(["ini0"]).openDevice(1, 1));
  const back = Buffer.alloc(device.sizeBytes);
  await b.run(device.read(back, 0));
  assert.ok(back.equals(smallExportContent()));
  await assert.rejects(b.run(device.write(Buffer.alloc(SECTOR_BYTES), 0)), (e) =>
    isEtherplaneError(e, "REFUSED"),
  );
  assert.ok(b.bytesOf("1.1").equals(smallExportContent()), "the disk is unchanged");
}

/** One device over both interfaces, `bytes` written and read back. */
export async function multipath(b: TargetInitiatorBench, bytes: number): Promise<void> {
  const device = await b.run(b.initiator(["ini0", "ini1"]).openDevice(1, 0));
  assert.equal(device.pathStats().length, 2);
  const data = pattern(bytes, b.seed + 21);
  await b.run(device.write(data, 0));
  const back = Buffer.alloc(bytes);
  await b.run(device.read(back, 0));
  assert.ok(back.equals(data), `seed ${b.seed}`);
  const replies = device.pathStats().map((p) => p.replies);
  assert.ok(
    replies.every((n) => n > 100),
    `both paths carried frames: ${replies.join(", ")}`,
  );
}

/** After b.jumbo(), 17 sectors per frame; `bytes` written and read back at sector 1000. */
export async function jumboFrames(b: TargetInitiatorBench, bytes: number): Promise<void> {
  await b.jumbo();
  const ini = b.initiator(["ini0"]);
  const device = await b.run(ini.openDevice(1, 0));
  assert.equal(device.sectorsPerFrame, 17);
  const [found] = await b.run(ini.discover({ listenMs: 200, shelf: 1, slot: 0 }));
  assert.match(formatAoeStat(found ? [found] : []), /ini0 8704 {2}up$/);
  const data = pattern(bytes, b.seed + 31);
  const at = 1000 * SECTOR_BYTES;
  await b.run(device.write(data, at));
  const back = Buffer.alloc(data.length);
  await b.run(device.read(back, at));
  assert.ok(back.equals(data), `seed ${b.seed}`);
  assert.ok(
    b
      .bytesOf("1.0")
      .subarray(at, at + data.length)
      .equals(data),
    "on the disk",
  );
  const stats = b.target.stats().exports.find((e) => e.address === "1.0");
  assert.ok(
    stats && stats.counters.writtenBytes > 0 && stats.counters.readBytes > 0,
    "counters move",
  );
}
