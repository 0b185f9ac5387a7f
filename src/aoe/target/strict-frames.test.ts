/**
 * What the target refuses to execute (issue 13), on the simulator: frames for another station's
 * MAC (a switch that floods), 802.1Q-tagged frames (the tag the kernel strips), requests with the
 * E flag, reserved flag bits or an error byte, and ATA commands whose aflags W bit disagrees with
 * the opcode. Each is counted; none changes the disk. strict-frames.integ.test.ts sends the
 * kernel-dependent ones through real AF_PACKET sockets on veth.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { AoeSim } from "../../../test/sim/aoe-sim.js";
import { simSeed } from "../../../test/sim/random.js";
import type { SimRawSocket } from "../../../test/sim/sim-segment.js";
import {
  AFLAG_LBA48,
  AFLAG_WRITE,
  AOE_ERROR,
  AOE_TAG,
  AoeCommand,
  AoeError,
  ATA_CMD_STATUS,
  ATA_ERR_FEATURE,
  AtaCommand,
  AtaErrorBits,
  AtaStatus,
  ConfigCommand,
  encodeAtaFrame,
  encodeConfig,
  SECTOR_BYTES,
  type HeaderFields,
} from "../codec/index.js";
import { RequestFrames, vlanTagged } from "../testing/request-frames.js";
import type { AoeTarget } from "./aoe-target.js";

describe("the target executes only what is addressed to it, strictly (simulated link)", () => {
  const sim = new AoeSim({ seed: simSeed("strict frames") });
  const disk = sim.disk("/sim/disk.img", 64 * SECTOR_BYTES);
  let target: AoeTarget;
  let raw: SimRawSocket;
  let requests: RequestFrames;
  const replies: Buffer[] = [];

  const header = (overrides: Partial<HeaderFields> = {}) => requests.header(overrides);
  /** One sector filled with `fill` at `lba`; `aflags` replaces LBA48|W. */
  const write = (lba: number, fill: number, fields: Partial<HeaderFields> = {}, aflags?: number) =>
    requests.write(lba, fill, fields, aflags);
  const deliver = async (frames: Buffer[]) => {
    raw.send(frames);
    await sim.clock.advance(20);
  };
  const sector = (lba: number) => disk.bytes.subarray(lba * 512, (lba + 1) * 512);
  const replyTo = (frame: Buffer, tagOffset = AOE_TAG) =>
    replies.find((r) => r.readUInt32BE(AOE_TAG) === frame.readUInt32BE(tagOffset));
  const drops = () => target.stats().drops;
  const exportCounters = () => target.stats().exports[0]?.counters;

  before(async () => {
    target = await sim.startTarget({
      interfaces: ["tgt0"],
      exports: [{ address: "1.0", path: "/sim/disk.img" }],
    });
    raw = sim.socket("ini0");
    requests = new RequestFrames({ dst: sim.mac("tgt0"), src: raw.mac, shelf: 1, firstTag: 0x100 });
    raw.onFrames((frames) => replies.push(...frames));
  });
  after(() => sim.close());

  test("a write for another station's MAC, flooded to the target, is dropped and counted", async () => {
    sim.link("ini0").flood = true;
    try {
      const elsewhere = Buffer.from([0x02, 0x00, 0x00, 0x00, 0x00, 0x99]);
      const frame = write(1, 0x77, { dst: elsewhere });
      await deliver([frame]);
      assert.ok(
        sector(1).every((b) => b === 0),
        "not written",
      );
      assert.equal(replyTo(frame), undefined, "not answered");
      assert.equal(drops()["other-host"], 1);
      // Its own frames still work on the flooding segment.
      const mine = write(1, 0x78);
      await deliver([mine]);
      assert.ok(sector(1).every((b) => b === 0x78));
    } finally {
      sim.link("ini0").flood = false;
    }
  });

  test("802.1Q-tagged frames are dropped and counted; a priority tag (VLAN 0) is the native LAN", async () => {
    const vlan100 = vlanTagged(write(2, 0x55), 100);
    const vlan7Priority5 = vlanTagged(write(2, 0x56), (5 << 13) | 7);
    await deliver([vlan100, vlan7Priority5]);
    assert.ok(
      sector(2).every((b) => b === 0),
      "no tagged write executed",
    );
    assert.equal(replyTo(vlan100, AOE_TAG + 4), undefined);
    assert.equal(drops()["vlan-tagged"], 2);
    const priorityOnly = vlanTagged(write(2, 0x57), 3 << 13);
    await deliver([priorityOnly]);
    assert.ok(
      sector(2).every((b) => b === 0x57),
      "a priority-tagged frame is served",
    );
  });

  test("the E flag, reserved flag bits and a non-zero error byte get AoE error 2, nothing executed", async () => {
    const frames = [
      write(3, 0x31, { flags: 0x04 }),
      write(3, 0x32, { flags: 0x01 }),
      write(3, 0x33, { flags: 0x02 }),
      write(3, 0x34, { error: 1 }),
    ];
    await deliver(frames);
    assert.ok(
      sector(3).every((b) => b === 0),
      "nothing written",
    );
    for (const frame of frames) {
      const reply = replyTo(frame);
      assert.ok(reply, "an error reply came");
      assert.equal(reply[AOE_ERROR], AoeError.badArgument);
      assert.equal((reply[14] as number) & 0x0f, 0x08 | 0x04, "R and E flags");
    }
    assert.equal(exportCounters()?.drops["bad-flags"], 4);
    // A broadcast query config with the E flag is dropped (no reply to a broadcast), counted.
    const query = encodeConfig(
      header({ command: AoeCommand.queryConfig, shelf: 0xffff, slot: 0xff, flags: 0x04 }),
      {
        bufferCount: 0,
        firmware: 0,
        sectorCount: 0,
        aoeVersion: 1,
        ccmd: ConfigCommand.read,
        configString: Buffer.alloc(0),
      },
    );
    await deliver([query]);
    assert.equal(replyTo(query), undefined);
    assert.equal(drops()["bad-flags"], 1);
  });

  test("an ATA WRITE without the W bit, a READ or IDENTIFY with it, are aborted", async () => {
    const writeWithoutW = write(4, 0x44, {}, AFLAG_LBA48);
    const readWithW = encodeAtaFrame(
      header(),
      {
        aflags: AFLAG_LBA48 | AFLAG_WRITE,
        errFeature: 0,
        sectorCount: 1,
        cmdStatus: AtaCommand.readSectorsExt,
        lba: 4,
      },
      SECTOR_BYTES,
    );
    const identifyWithW = encodeAtaFrame(header(), {
      aflags: AFLAG_WRITE,
      errFeature: 0,
      sectorCount: 0,
      cmdStatus: AtaCommand.identifyDevice,
      lba: 0,
    });
    const before = exportCounters()?.readRequests;
    await deliver([writeWithoutW, readWithW, identifyWithW]);
    assert.ok(
      sector(4).every((b) => b === 0),
      "not written",
    );
    for (const frame of [writeWithoutW, readWithW, identifyWithW]) {
      const reply = replyTo(frame);
      assert.ok(reply, "an ATA reply came");
      assert.equal(reply[AOE_ERROR], 0, "an ATA error, not an AoE one");
      assert.equal(reply[ATA_CMD_STATUS], AtaStatus.drdy | AtaStatus.err);
      assert.equal(reply[ATA_ERR_FEATURE], AtaErrorBits.abrt);
      assert.ok(reply.length <= 60, "no data in the reply");
    }
    assert.equal(exportCounters()?.directionAborts, 3);
    assert.equal(exportCounters()?.readRequests, before, "the read was not executed");
  });
});
