/**
 * The strict rules that depend on the kernel (strict-frames.test.ts has them all on the
 * simulator), through real AF_PACKET sockets on a veth pair between two namespaces: a frame for
 * another station's MAC arrives as PACKET_OTHERHOST, an 802.1Q-tagged one with its tag stripped
 * and reported in PACKET_AUXDATA. Neither is executed; both are counted. Each check waits for the
 * reply to a valid write sent after the hostile frames (one socket, one link: frames keep their
 * order), never for a fixed time.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { after, before, describe, test } from "node:test";
import {
  createAoeLink,
  makeBackingFile,
  startTarget,
  type AoeLink,
} from "../../../test/lab/aoe-lab.js";
import { runTool } from "../../../test/lab/netns.js";
import { openAfPacketSocket } from "../../net/raw-socket/af-packet.js";
import type { RawSocket } from "../../net/raw-socket/raw-socket.js";
import {
  AFLAG_LBA48,
  AFLAG_WRITE,
  AOE_ETHERTYPE,
  AOE_TAG,
  AoeCommand,
  ATA_DATA,
  AtaCommand,
  encodeAtaFrame,
  SECTOR_BYTES,
  type HeaderFields,
} from "../codec/index.js";
import type { AoeTarget } from "./aoe-target.js";

const REPLY_DEADLINE_MS = 20_000;

/** Whether this kernel can make VLAN interfaces (as host-network.integ.test.ts asks). */
async function kernelHas8021q(): Promise<boolean> {
  if (fs.existsSync("/proc/net/vlan") || fs.existsSync("/sys/module/8021q")) return true;
  const probe = await runTool("modprobe", ["--dry-run", "8021q"]).catch(() => ({ code: 1 }));
  return probe.code === 0;
}

function tagged(frame: Buffer, tci: number): Buffer {
  const tag = Buffer.from([0x81, 0x00, tci >> 8, tci & 0xff]);
  return Buffer.concat([frame.subarray(0, 12), tag, frame.subarray(12)]);
}

describe("strict frame rules over AF_PACKET on veth", () => {
  let link: AoeLink;
  let target: AoeTarget;
  let disk: string;
  let raw: RawSocket;
  let targetMac: Buffer;
  const replies = new Map<number, Buffer>();
  let nextTag = 0x1000;

  const write = (lba: number, fill: number, fields: Partial<HeaderFields> = {}) => {
    const frame = encodeAtaFrame(
      {
        dst: targetMac,
        src: raw.mac,
        flags: 0,
        error: 0,
        shelf: 3,
        slot: 0,
        command: AoeCommand.ata,
        tag: nextTag++,
        ...fields,
      },
      {
        aflags: AFLAG_LBA48 | AFLAG_WRITE,
        errFeature: 0,
        sectorCount: 1,
        cmdStatus: AtaCommand.writeSectorsExt,
        lba,
      },
      SECTOR_BYTES,
    );
    frame.fill(fill, ATA_DATA);
    return frame;
  };
  /** Sends `frames`, then a valid write, and waits for that write's reply. */
  const sendThenFence = async (frames: Buffer[]) => {
    const fence = write(63, 0x01);
    raw.send([...frames, fence]);
    const tag = fence.readUInt32BE(AOE_TAG);
    const deadline = Date.now() + REPLY_DEADLINE_MS;
    while (!replies.has(tag)) {
      if (Date.now() > deadline) throw new Error("the target did not answer a valid write");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  const sector = (lba: number) =>
    fs.readFileSync(disk).subarray(lba * SECTOR_BYTES, (lba + 1) * SECTOR_BYTES);

  before(async () => {
    link = await createAoeLink("strict");
    disk = makeBackingFile(link.dir, "disk.img", 64 * SECTOR_BYTES);
    target = await startTarget(link.targetNs, {
      stateDir: `${link.dir}/state`,
      interfaces: ["tgt0"],
      exports: [{ address: "3.0", path: disk }],
    });
    targetMac = Buffer.from(
      (await link.targetNs.mac("tgt0")).split(":").map((h) => parseInt(h, 16)),
    );
    raw = openAfPacketSocket({
      ifname: "ini0",
      ethertype: AOE_ETHERTYPE,
      netnsPath: link.initiatorNs.path,
    });
    raw.onFrames((frames) => {
      for (const frame of frames) replies.set(frame.readUInt32BE(AOE_TAG), frame);
    });
  });

  after(async () => {
    raw?.close();
    await target?.stop();
    await link?.close();
  });

  test("a write for another station's MAC (PACKET_OTHERHOST) is dropped and counted", async () => {
    const frame = write(1, 0x77, { dst: Buffer.from([0x02, 0, 0, 0, 0, 0x99]) });
    await sendThenFence([frame]);
    assert.ok(
      sector(1).every((b) => b === 0),
      "not written",
    );
    assert.ok(!replies.has(frame.readUInt32BE(AOE_TAG)), "not answered");
    assert.equal(target.stats().drops["other-host"], 1);
  });

  test("an 802.1Q-tagged write of a VLAN with no interface here is dropped (PACKET_OTHERHOST)", async () => {
    // The kernel clears the tag before a socket bound to one ethertype sees the frame, and marks
    // it for another host (__netif_receive_skb_core): dropped as other-host.
    const frame = write(2, 0x55);
    await sendThenFence([tagged(frame, 100)]);
    assert.ok(
      sector(2).every((b) => b === 0),
      "not written",
    );
    assert.ok(!replies.has(frame.readUInt32BE(AOE_TAG)), "not answered");
    assert.equal(target.stats().drops["other-host"], 2);
  });

  test("a tagged write of a VLAN with an interface on the target's (tgt0.100) is dropped and counted", async (t) => {
    if (!(await kernelHas8021q())) {
      t.skip("by design: this kernel has no 8021q (CONFIG_VLAN_8021Q), so no VLAN interface");
      return;
    }
    // The VLAN interface untags it; our tgt0 socket still gets it, through tgt0.100 (sll_ifindex).
    await link.targetNs.exec("ip", [
      "link",
      "add",
      "link",
      "tgt0",
      "name",
      "tgt0.100",
      "type",
      "vlan",
      "id",
      "100",
    ]);
    await link.targetNs.exec("ip", ["link", "set", "tgt0.100", "up"]);
    const frame = write(3, 0x66);
    await sendThenFence([tagged(frame, 100)]);
    assert.ok(
      sector(3).every((b) => b === 0),
      "not written",
    );
    assert.ok(!replies.has(frame.readUInt32BE(AOE_TAG)), "not answered");
    assert.equal(target.stats().drops["vlan-tagged"], 1);
  });

  test("an untagged write to the target's own MAC is executed", async () => {
    const frame = write(4, 0x44);
    await sendThenFence([frame]);
    assert.ok(replies.has(frame.readUInt32BE(AOE_TAG)));
    assert.ok(sector(4).every((b) => b === 0x44));
  });
});
