import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as nbd from "./protocol.js";
import { reasonOf, request, unwrap } from "./testing/codec-test-helpers.js";

void describe("nbd transmission codec", () => {
  void it("round-trips a request with full 64-bit handle and offset", () => {
    const fields = request({
      flags: nbd.NBD_CMD_FLAG_FUA,
      type: nbd.NBD_CMD_WRITE,
      handle: 2n ** 64n - 1n,
      offset: 2n ** 63n,
      length: 0xffffffff,
    });
    const bytes = nbd.encodeRequest(fields);
    assert.equal(bytes.length, 28);
    assert.equal(bytes.readUInt32BE(0), 0x25609513);
    assert.deepEqual(unwrap(nbd.decodeRequest(bytes)), fields);
  });

  void it("rejects a request with a bad magic or cut short", () => {
    const bytes = nbd.encodeRequest(request({}));
    const bad = Buffer.from(bytes);
    bad.writeUInt32BE(0x67446698, 0);
    assert.match(reasonOf(nbd.decodeRequest(bad)), /bad magic 0x67446698/);
    assert.match(reasonOf(nbd.decodeRequest(bytes.subarray(0, 27))), /truncated: 27 of 28/);
  });

  void it("round-trips simple replies", () => {
    const reply = nbd.encodeSimpleReply(0x1122334455667788n, nbd.NBD_EIO);
    assert.equal(reply.toString("hex"), "67446698" + "00000005" + "1122334455667788");
    assert.deepEqual(unwrap(nbd.decodeSimpleReply(reply)), {
      error: 5,
      handle: 0x1122334455667788n,
    });
    assert.match(reasonOf(nbd.decodeSimpleReply(Buffer.alloc(16))), /bad magic/);
    assert.match(reasonOf(nbd.decodeSimpleReply(reply.subarray(0, 4))), /truncated/);
  });
});
