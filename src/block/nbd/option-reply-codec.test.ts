import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as nbd from "./protocol.js";
import { reasonOf, unwrap } from "./testing/codec-test-helpers.js";

void describe("nbd option replies", () => {
  void it("encodes NBD_INFO_EXPORT and NBD_INFO_BLOCK_SIZE as NBD_REP_INFO", () => {
    const info = nbd.encodeInfoExport(nbd.NBD_OPT_GO, 8 * 1024 * 1024, 0x4d);
    const header = unwrap(nbd.decodeOptionReplyHeader(info));
    assert.deepEqual(header, {
      option: nbd.NBD_OPT_GO,
      replyType: nbd.NBD_REP_INFO,
      dataBytes: 12,
    });
    assert.deepEqual(unwrap(nbd.decodeInfoReply(info.subarray(20))), {
      type: nbd.NBD_INFO_EXPORT,
      export: { sizeBytes: 8388608n, flags: 0x4d },
    });

    const sizes = { minBytes: 1, preferredBytes: 4096, maxBytes: 32 * 1024 * 1024 };
    const block = nbd.encodeInfoBlockSize(nbd.NBD_OPT_INFO, sizes);
    assert.equal(block.length, 20 + 14);
    assert.deepEqual(unwrap(nbd.decodeInfoReply(block.subarray(20))), {
      type: nbd.NBD_INFO_BLOCK_SIZE,
      blockSizes: sizes,
    });
    assert.throws(() => nbd.encodeInfoBlockSize(7, { ...sizes, minBytes: 3 }), /minimum/);
  });

  void it("rejects malformed info replies", () => {
    assert.match(reasonOf(nbd.decodeInfoReply(Buffer.alloc(1))), /truncated/);
    assert.match(reasonOf(nbd.decodeInfoReply(Buffer.from("0000ff", "hex"))), /3 bytes/);
    assert.deepEqual(unwrap(nbd.decodeInfoReply(Buffer.from("0009", "hex"))), { type: 9 });
  });

  void it("encodes acks, errors with a message, and NBD_REP_SERVER", () => {
    const ack = nbd.encodeOptionReply(nbd.NBD_OPT_ABORT, nbd.NBD_REP_ACK);
    assert.equal(ack.toString("hex"), "0003e889045565a9" + "00000002" + "00000001" + "00000000");
    const error = nbd.encodeOptionError(8, nbd.NBD_REP_ERR_UNSUP, "no");
    assert.equal(unwrap(nbd.decodeOptionReplyHeader(error)).replyType, 0x80000001);
    assert.equal(error.subarray(20).toString(), "no");
    assert.throws(() => nbd.encodeOptionError(8, nbd.NBD_REP_ACK, "x"), /bit 31/);
    const server = nbd.encodeServerReply("vol");
    assert.equal(
      server.subarray(20).toString("hex"),
      "00000003" + Buffer.from("vol").toString("hex"),
    );
    assert.match(reasonOf(nbd.decodeOptionReplyHeader(Buffer.alloc(20))), /bad magic/);
    assert.match(reasonOf(nbd.decodeOptionReplyHeader(ack.subarray(0, 8))), /truncated/);
  });

  void it("sends the 124 zero bytes after NBD_OPT_EXPORT_NAME unless NO_ZEROES", () => {
    const withZeroes = nbd.encodeExportNameReply(1 << 20, 0x05, false);
    assert.equal(withZeroes.length, 134);
    assert.equal(withZeroes.subarray(0, 10).toString("hex"), "0000000000100000" + "0005");
    assert.ok(withZeroes.subarray(10).every((byte) => byte === 0));
    assert.equal(nbd.encodeExportNameReply(1 << 20, 0x05, true).length, 10);
  });
});
