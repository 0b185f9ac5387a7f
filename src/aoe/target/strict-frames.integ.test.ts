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
import { createAoeBench, macOf, openAoeSocket } from "../../../test/lab/aoe-lab.js";
import type { AoeBench } from "../../../test/lab/aoe-lab.js";
import { runTool } from "../../../test/lab/netns.js";
import type { RawSocket } from "../../net/raw-socket/raw-socket.js";
import { SECTOR_BYTES, type HeaderFields } from "../codec/index.js";
import { RequestFrames, tagOf, vlanTagged, waitForReply } from "../testing/request-frames.js";
import type { AoeTarget } from "./aoe-target.js";

const REPLY_DEADLINE_MS = 20_000;

/** Whether this kernel can make VLAN interfaces (as host-network.integ.test.ts asks). */
async function kernelHas8021q(): Promise<boolean> {
  if (fs.existsSync("/proc/net/vlan") || fs.existsSync("/sys/module/8021q")) return true;
  const probe = await runTool("modprobe", ["--dry-run", "8021q"]).catch(() => ({ code: 1 }));
  return probe.code === 0;
}

describe("strict frame rules over AF_PACKET on veth", () => {
  let link: AoeBench;
  let target: AoeTarget;
  let raw: RawSocket;
  let requests: RequestFrames;
  const replies = new Map<number, Buffer>();

  const write = (lba: number, fill: number, fields: Partial<HeaderFields> = {}) =>
    requests.write(lba, fill, fields);
  /** Sends `frames`, then a valid write, and waits for that write's reply. */
  const sendThenFence = async (frames: Buffer[]) => {
    const fence = write(63, 0x01);
    raw.send([...frames, fence]);
    await waitForReply((tag) => replies.has(tag), tagOf(fence), "a valid write", REPLY_DEADLINE_MS);
  };
  const sector = (lba: number) =>
    fs.readFileSync(link.disk).subarray(lba * SECTOR_BYTES, (lba + 1) * SECTOR_BYTES);

  before(async () => {
    link = await createAoeBench("strict", { diskBytes: 64 * SECTOR_BYTES });
    target = await link.serve("3.0");
    raw = openAoeSocket(link.initiatorNs, "ini0");
    const dst = await macOf(link.targetNs, "tgt0");
    requests = new RequestFrames({ dst, src: raw.mac, shelf: 3, firstTag: 0x1000 });
    raw.onFrames((frames) => {
      for (const frame of frames) replies.set(tagOf(frame), frame);
    });
  });

  after(async () => {
    raw?.close();
    await link?.close();
  });

  test("a write for another station's MAC (PACKET_OTHERHOST) is dropped and counted", async () => {
    const frame = write(1, 0x77, { dst: Buffer.from([0x02, 0, 0, 0, 0, 0x99]) });
    await sendThenFence([frame]);
    assert.ok(
      sector(1).every((b) => b === 0),
      "not written",
    );
    assert.ok(!replies.has(tagOf(frame)), "not answered");
    assert.equal(target.stats().drops["other-host"], 1);
  });

  test("an 802.1Q-tagged write of a VLAN with no interface here is dropped (PACKET_OTHERHOST)", async () => {
    // The kernel clears the tag before a socket bound to one ethertype sees the frame, and marks
    // it for another host (__netif_receive_skb_core): dropped as other-host.
    const frame = write(2, 0x55);
    await sendThenFence([vlanTagged(frame, 100)]);
    assert.ok(
      sector(2).every((b) => b === 0),
      "not written",
    );
    assert.ok(!replies.has(tagOf(frame)), "not answered");
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
    await sendThenFence([vlanTagged(frame, 100)]);
    assert.ok(
      sector(3).every((b) => b === 0),
      "not written",
    );
    assert.ok(!replies.has(tagOf(frame)), "not answered");
    assert.equal(target.stats().drops["vlan-tagged"], 1);
  });

  test("an untagged write to the target's own MAC is executed", async () => {
    const frame = write(4, 0x44);
    await sendThenFence([frame]);
    assert.ok(replies.has(tagOf(frame)));
    assert.ok(sector(4).every((b) => b === 0x44));
  });
});
