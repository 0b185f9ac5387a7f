/**
 * Our initiator against our target over real veth links in network namespaces, for what only
 * real sockets, files and interfaces show: discovery, whole-device patterns in a backing file,
 * read-only files, multipath over two veths, and a real MTU change (1500 -> 9000) while running.
 * The protocol cases (range errors, ATA commands, unaligned edges, two initiators...) run on the
 * simulator in target-initiator.test.ts; the five scenarios both files run are written once in
 * src/aoe/testing/target-initiator-cases.ts.
 */
import * as fs from "node:fs";
import { after, before, describe, test } from "node:test";
import { SECTOR_BYTES } from "../codec/index.js";
import { createAoeBench, makeBackingFile, type AoeBench } from "../../../test/lab/aoe-lab.js";
import {
  discoversBothExports,
  jumboFrames,
  multipath,
  readOnlyExport,
  SMALL_EXPORT_BYTES,
  smallExportContent,
  wholeDevicePattern,
  type TargetInitiatorBench,
} from "../testing/target-initiator-cases.js";
import type { AoeTarget } from "./aoe-target.js";

const MiB = 1024 * 1024;

describe("etherplane initiator <-> etherplane target", () => {
  let link: AoeBench;
  let target: AoeTarget;
  let small: string;

  before(async () => {
    link = await createAoeBench("ti", { diskBytes: 16 * MiB, links: 2 });
    small = makeBackingFile(link.dir, "small.img", SMALL_EXPORT_BYTES);
    fs.writeFileSync(small, smallExportContent());
    target = await link.serve("1.0", {
      interfaces: ["tgt0", "tgt1"],
      exports: [
        { address: "1.0", path: link.disk, model: "test disk", serial: "T-1-0" },
        { address: "1.1", path: small, readOnly: true },
      ],
    });
  });

  after(async () => link?.close());

  const bench: TargetInitiatorBench = {
    get target() {
      return target;
    },
    diskBytes: 16 * MiB,
    diskGb: "0.017",
    bytesOf: (address) => fs.readFileSync(address === "1.0" ? link.disk : small),
    initiator: (ifnames) => link.initiator(ifnames),
    run: (promise) => promise,
    seed: 0,
    jumbo: async () => {
      await link.targetNs.setMtu("tgt0", 9000);
      await link.initiatorNs.setMtu("ini0", 9000);
      target.refreshMtus();
    },
  };

  test("discovery finds both exports with size, interface, payload and state, as aoe-stat prints them", () =>
    discoversBothExports(bench));

  test("a pattern written over the whole device reads back, and is in the backing file", () =>
    wholeDevicePattern(bench));

  test("a read-only export serves reads and refuses writes with an ATA abort", () =>
    readOnlyExport(bench));

  test("multipath: one device over two interfaces spreads frames over both paths", () =>
    multipath(bench, 4 * MiB));

  test("jumbo frames: after the MTU goes to 9000 the target offers 17 sectors per frame", () =>
    jumboFrames(bench, 3 * MiB + 5 * SECTOR_BYTES));
});
