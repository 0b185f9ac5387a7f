import assert from "node:assert/strict";
import { test } from "node:test";
import { openAfPacketSocket } from "./af-packet.js";

test("a receive filter that is not whole BPF instructions is refused before any socket opens", () => {
  for (const receiveFilter of [Buffer.alloc(0), Buffer.alloc(7), Buffer.alloc(65 * 8)]) {
    assert.throws(
      () => openAfPacketSocket({ ifname: "lo", ethertype: 0x88a2, receiveFilter }),
      /receiveFilter must be a Buffer of 1 to 64 BPF instructions \(8 bytes each\)/,
    );
  }
});
