import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as nbd from "./protocol.js";
import { reasonOf, unwrap } from "./testing/codec-test-helpers.js";

void describe("nbd handshake codec", () => {
  void it("encodes the greeting as NBDMAGIC, IHAVEOPT and the handshake flags", () => {
    const flags = nbd.NBD_FLAG_FIXED_NEWSTYLE | nbd.NBD_FLAG_NO_ZEROES;
    const greeting = nbd.encodeGreeting(flags);
    assert.equal(
      greeting.toString("hex"),
      Buffer.from("NBDMAGICIHAVEOPT").toString("hex") + "0003",
    );
    assert.deepEqual(unwrap(nbd.decodeGreeting(greeting)), { handshakeFlags: 3 });
  });

  void it("rejects a truncated or oldstyle greeting", () => {
    const greeting = nbd.encodeGreeting(1);
    assert.match(reasonOf(nbd.decodeGreeting(greeting.subarray(0, 17))), /truncated: 17 of 18/);
    const oldstyle = Buffer.from(greeting);
    oldstyle.writeBigUInt64BE(0x00420281861253n, 8);
    assert.match(reasonOf(nbd.decodeGreeting(oldstyle)), /IHAVEOPT/);
    assert.match(reasonOf(nbd.decodeGreeting(Buffer.alloc(18))), /NBDMAGIC/);
  });

  void it("accepts the client flags the server offered, and only those", () => {
    const offered = nbd.NBD_FLAG_FIXED_NEWSTYLE | nbd.NBD_FLAG_NO_ZEROES;
    assert.deepEqual(unwrap(nbd.decodeClientFlags(nbd.encodeClientFlags(3), offered)), {
      fixedNewstyle: true,
      noZeroes: true,
    });
    assert.deepEqual(unwrap(nbd.decodeClientFlags(nbd.encodeClientFlags(0), offered)), {
      fixedNewstyle: false,
      noZeroes: false,
    });
    assert.match(reasonOf(nbd.decodeClientFlags(nbd.encodeClientFlags(4), offered)), /0x4/);
    const unsigned = nbd.encodeClientFlags(0x80000001);
    assert.match(reasonOf(nbd.decodeClientFlags(unsigned, offered)), /0x80000001/);
    // NO_ZEROES is only valid when the server advertised it.
    const fixedOnly = nbd.NBD_FLAG_FIXED_NEWSTYLE;
    assert.equal(nbd.decodeClientFlags(nbd.encodeClientFlags(3), fixedOnly).ok, false);
    assert.match(reasonOf(nbd.decodeClientFlags(Buffer.alloc(3), offered)), /truncated/);
  });

  void it("frames options and bounds their data length before allocation", () => {
    const option = nbd.encodeOption(nbd.NBD_OPT_LIST);
    assert.equal(option.length, 16);
    assert.deepEqual(unwrap(nbd.decodeOptionHeader(option)), {
      option: nbd.NBD_OPT_LIST,
      dataBytes: 0,
    });
    const huge = Buffer.from(option);
    huge.writeUInt32BE(0xffffffff, nbd.OPTION.length);
    assert.match(reasonOf(nbd.decodeOptionHeader(huge)), /4294967295 data bytes, more than/);
    const badMagic = Buffer.from(option);
    badMagic.writeUInt8(0, 0);
    assert.match(reasonOf(nbd.decodeOptionHeader(badMagic)), /bad magic/);
    assert.match(reasonOf(nbd.decodeOptionHeader(option.subarray(0, 15))), /truncated/);
  });

  void it("round-trips NBD_OPT_GO data and rejects malformed names and counts", () => {
    const data = nbd.encodeInfoRequest({ name: "vol-1", infoTypes: [nbd.NBD_INFO_BLOCK_SIZE] });
    assert.equal(
      data.toString("hex"),
      "00000005" + Buffer.from("vol-1").toString("hex") + "00010003",
    );
    assert.deepEqual(unwrap(nbd.decodeInfoRequest(data)), { name: "vol-1", infoTypes: [3] });

    const nameTooLong = Buffer.from(data);
    nameTooLong.writeUInt32BE(0xfffffff0, 0);
    assert.match(reasonOf(nbd.decodeInfoRequest(nameTooLong)), /name length 4294967280 exceeds/);
    assert.match(
      reasonOf(nbd.decodeInfoRequest(data.subarray(0, data.length - 1))),
      /need 13 bytes, got 12/,
    );
    assert.match(
      reasonOf(nbd.decodeInfoRequest(Buffer.concat([data, Buffer.alloc(2)]))),
      /need 13 bytes, got 15/,
    );
    assert.match(reasonOf(nbd.decodeInfoRequest(Buffer.alloc(5))), /truncated/);

    const withNul = nbd.encodeInfoRequest({ name: "a\0b", infoTypes: [] });
    assert.match(reasonOf(nbd.decodeInfoRequest(withNul)), /NUL/);
    const badUtf8 = Buffer.from("00000002c3280000", "hex");
    assert.match(reasonOf(nbd.decodeInfoRequest(badUtf8)), /UTF-8/);
    const long = Buffer.alloc(4 + 4097 + 2, 0x61);
    long.writeUInt32BE(4097, 0);
    long.writeUInt16BE(0, 4 + 4097);
    assert.match(reasonOf(nbd.decodeInfoRequest(long)), /4097 bytes, more than 4096/);
  });

  void it("decodes NBD_OPT_EXPORT_NAME data as the name", () => {
    assert.equal(unwrap(nbd.decodeExportName(Buffer.alloc(0))), "");
    assert.equal(unwrap(nbd.decodeExportName(Buffer.from("vol"))), "vol");
    assert.equal(nbd.decodeExportName(Buffer.alloc(4097, 0x61)).ok, false);
  });
});
