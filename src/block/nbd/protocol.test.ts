import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import * as nbd from "./protocol.js";

const limits: nbd.ExportLimits = {
  sizeBytes: 8 * 1024 * 1024,
  readOnly: false,
  payloadBytesMax: nbd.NBD_PAYLOAD_BYTES_MAX,
  blockBytesMin: 1,
};

function unwrap<T>(decoded: nbd.Decoded<T>): T {
  if (!decoded.ok) assert.fail(`expected success, got: ${decoded.reason}`);
  return decoded.value;
}

function reasonOf<T>(decoded: nbd.Decoded<T>): string {
  if (decoded.ok) assert.fail(`expected a failure, got ${String(decoded.value)}`);
  return decoded.reason;
}

function request(fields: Partial<nbd.NbdRequest>): nbd.NbdRequest {
  return { flags: 0, type: nbd.NBD_CMD_READ, handle: 1n, offset: 0n, length: 512, ...fields };
}

/** Messages from a real client, one per line: `<kind> <hex>` (see the fixture's header). */
function loadFixture(name: string): Array<{ kind: string; bytes: Buffer }> {
  // Compiled tests run from dist/src/block/nbd; fixtures stay in the source tree.
  const url = new URL(`../../../../test/fixtures/nbd/${name}`, import.meta.url);
  return readFileSync(url, "utf8")
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const [kind = "", hex = ""] = line.split(" ");
      return { kind, bytes: Buffer.from(hex, "hex") };
    });
}

void describe("nbd protocol layouts", () => {
  void it("match the sizes in proto.md", () => {
    assert.equal(nbd.GREETING.bytes, 18);
    assert.equal(nbd.CLIENT_FLAGS.bytes, 4);
    assert.equal(nbd.OPTION.bytes, 16);
    assert.equal(nbd.OPTION_REPLY.bytes, 20);
    assert.equal(nbd.EXPORT_NAME_REPLY.bytes + nbd.NBD_EXPORT_NAME_ZEROES_BYTES, 134);
    assert.equal(nbd.INFO_EXPORT.bytes, 12);
    assert.equal(nbd.INFO_BLOCK_SIZE.bytes, 14);
    assert.equal(nbd.REQUEST.bytes, 28);
    assert.equal(nbd.SIMPLE_REPLY.bytes, 16);
    assert.equal(nbd.NBD_REP_ERR_UNSUP, 0x80000001);
  });
});

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

void describe("checkRequest", () => {
  const size = BigInt(limits.sizeBytes);
  const verdict = (fields: Partial<nbd.NbdRequest>, over: Partial<nbd.ExportLimits> = {}) =>
    nbd.checkRequest(request(fields), { ...limits, ...over });
  const errorOf = (v: nbd.RequestVerdict) => (v.kind === "error" ? v.error : v.kind);

  void it("executes reads and writes inside the export, up to its last byte", () => {
    assert.deepEqual(verdict({ offset: size - 512n, length: 512 }), {
      kind: "execute",
      offsetBytes: limits.sizeBytes - 512,
      lengthBytes: 512,
      payloadBytes: 0,
    });
    const write = verdict({ type: nbd.NBD_CMD_WRITE, offset: 0n, length: 4096 });
    assert.deepEqual(write, {
      kind: "execute",
      offsetBytes: 0,
      lengthBytes: 4096,
      payloadBytes: 4096,
    });
    const fua = verdict({ type: nbd.NBD_CMD_FLUSH, flags: nbd.NBD_CMD_FLAG_FUA, length: 0 });
    assert.equal(fua.kind, "execute");
  });

  void it("answers out-of-range reads with EINVAL and writes with ENOSPC, consuming the payload", () => {
    assert.equal(errorOf(verdict({ offset: size - 511n, length: 512 })), nbd.NBD_EINVAL);
    assert.equal(errorOf(verdict({ offset: 2n ** 64n - 1n, length: 512 })), nbd.NBD_EINVAL);
    const write = verdict({ type: nbd.NBD_CMD_WRITE, offset: size, length: 512 });
    assert.equal(errorOf(write), nbd.NBD_ENOSPC);
    assert.equal(write.kind === "error" && write.payloadBytes, 512);
    const zeroes = verdict({ type: nbd.NBD_CMD_WRITE_ZEROES, offset: size, length: 512 });
    assert.equal(errorOf(zeroes), nbd.NBD_ENOSPC);
    assert.equal(zeroes.kind === "error" && zeroes.payloadBytes, 0);
  });

  void it("refuses oversize reads with EINVAL and hangs up on oversize writes", () => {
    const max = nbd.NBD_PAYLOAD_BYTES_MAX;
    assert.equal(errorOf(verdict({ length: max + 1 })), nbd.NBD_EINVAL);
    assert.equal(verdict({ length: max, offset: 0n }, { sizeBytes: max }).kind, "execute");
    assert.equal(verdict({ type: nbd.NBD_CMD_WRITE, length: 0xffffffff }).kind, "close");
    // WRITE_ZEROES carries no payload: any length inside the export is fine.
    const big = { type: nbd.NBD_CMD_WRITE_ZEROES, length: max * 2 };
    assert.equal(verdict(big, { sizeBytes: max * 4 }).kind, "execute");
  });

  void it("refuses writes on a read-only export with EPERM, but serves reads", () => {
    const readOnly = { readOnly: true };
    assert.equal(errorOf(verdict({ type: nbd.NBD_CMD_WRITE }, readOnly)), nbd.NBD_EPERM);
    assert.equal(errorOf(verdict({ type: nbd.NBD_CMD_WRITE_ZEROES }, readOnly)), nbd.NBD_EPERM);
    assert.equal(verdict({}, readOnly).kind, "execute");
  });

  void it("refuses unknown commands, invalid flags and nonzero FLUSH fields with EINVAL", () => {
    for (const type of [nbd.NBD_CMD_TRIM, nbd.NBD_CMD_CACHE, nbd.NBD_CMD_BLOCK_STATUS, 0xffff]) {
      assert.equal(errorOf(verdict({ type })), nbd.NBD_EINVAL, `command ${type}`);
    }
    assert.equal(errorOf(verdict({ flags: nbd.NBD_CMD_FLAG_DF })), nbd.NBD_EINVAL);
    assert.equal(errorOf(verdict({ flags: nbd.NBD_CMD_FLAG_NO_HOLE })), nbd.NBD_EINVAL);
    const noHole = { type: nbd.NBD_CMD_WRITE_ZEROES, flags: nbd.NBD_CMD_FLAG_NO_HOLE };
    assert.equal(verdict(noHole).kind, "execute");
    assert.equal(errorOf(verdict({ type: nbd.NBD_CMD_FLUSH, length: 1 })), nbd.NBD_EINVAL);
    // DISC has no reply: even a malformed one ends the session cleanly.
    assert.equal(verdict({ type: nbd.NBD_CMD_DISC, flags: 0xffff, length: 9 }).kind, "execute");
  });

  void it("enforces the advertised minimum block size", () => {
    const aligned = { blockBytesMin: 512 };
    assert.equal(verdict({ offset: 512n, length: 1024 }, aligned).kind, "execute");
    assert.equal(errorOf(verdict({ offset: 1n, length: 512 }, aligned)), nbd.NBD_EINVAL);
    assert.equal(errorOf(verdict({ offset: 0n, length: 100 }, aligned)), nbd.NBD_EINVAL);
  });
});

void describe("a captured qemu-io 7.2 client stream", () => {
  const messages = loadFixture("qemu-io-7.2-client-stream.hex");

  void it("decodes as the handshake and requests qemu-io sent", () => {
    const kinds = messages.map((m) => m.kind);
    assert.deepEqual(kinds.slice(0, 5), [
      "client-flags",
      "option",
      "option",
      "request",
      "write-payload",
    ]);
    const [flags, structured, go, write, payload, read, flush1, flush2, disc] = messages.map(
      (m) => m.bytes,
    );
    assert.ok(flags && structured && go && write && payload && read && flush1 && flush2 && disc);
    const offered = nbd.NBD_FLAG_FIXED_NEWSTYLE | nbd.NBD_FLAG_NO_ZEROES;
    assert.deepEqual(unwrap(nbd.decodeClientFlags(flags, offered)), {
      fixedNewstyle: true,
      noZeroes: true,
    });
    assert.deepEqual(unwrap(nbd.decodeOptionHeader(structured)), {
      option: nbd.NBD_OPT_STRUCTURED_REPLY,
      dataBytes: 0,
    });
    const goHeader = unwrap(nbd.decodeOptionHeader(go));
    assert.deepEqual(goHeader, { option: nbd.NBD_OPT_GO, dataBytes: 8 });
    assert.deepEqual(unwrap(nbd.decodeInfoRequest(go.subarray(16))), {
      name: "",
      infoTypes: [nbd.NBD_INFO_BLOCK_SIZE],
    });

    const writeRequest = unwrap(nbd.decodeRequest(write));
    assert.equal(writeRequest.type, nbd.NBD_CMD_WRITE);
    assert.equal(writeRequest.flags, nbd.NBD_CMD_FLAG_FUA);
    assert.equal(writeRequest.offset, 4096n);
    assert.equal(writeRequest.length, payload.length);
    assert.deepEqual(nbd.checkRequest(writeRequest, limits), {
      kind: "execute",
      offsetBytes: 4096,
      lengthBytes: 512,
      payloadBytes: 512,
    });
    assert.ok(payload.every((byte) => byte === 0x5a));

    const readRequest = unwrap(nbd.decodeRequest(read));
    assert.deepEqual(
      { type: readRequest.type, offset: readRequest.offset, length: readRequest.length },
      { type: nbd.NBD_CMD_READ, offset: 4096n, length: 512 },
    );
    // qemu reuses a handle once its request has completed (proto.md allows it).
    assert.equal(unwrap(nbd.decodeRequest(flush1)).type, nbd.NBD_CMD_FLUSH);
    assert.equal(unwrap(nbd.decodeRequest(flush2)).type, nbd.NBD_CMD_FLUSH);
    assert.equal(unwrap(nbd.decodeRequest(disc)).type, nbd.NBD_CMD_DISC);
  });

  void it("yields clear errors for every truncation of each message", () => {
    const decoders: Record<string, (b: Buffer) => nbd.Decoded<unknown>> = {
      "client-flags": (b) => nbd.decodeClientFlags(b, 3),
      option: (b) => nbd.decodeOptionHeader(b),
      request: (b) => nbd.decodeRequest(b),
    };
    for (const { kind, bytes } of messages) {
      const decode = decoders[kind];
      if (!decode) continue;
      const header = kind === "option" ? 16 : bytes.length;
      for (let cut = 0; cut < header; cut++) {
        assert.match(reasonOf(decode(bytes.subarray(0, cut))), /truncated/);
      }
    }
  });
});

void describe("hostile input", () => {
  /** xorshift32, seeded so that a failure replays (the seed is in the assertion message). */
  function prng(seed: number): () => number {
    let state = seed >>> 0 || 1;
    return () => {
      state ^= state << 13;
      state >>>= 0;
      state ^= state >>> 17;
      state ^= state << 5;
      state >>>= 0;
      return state;
    };
  }

  void it("never makes a decoder or checkRequest throw", () => {
    const seed = 0x5eed;
    const next = prng(seed);
    const valid = [
      nbd.encodeRequest(request({ type: nbd.NBD_CMD_WRITE })),
      nbd.encodeOption(nbd.NBD_OPT_GO, nbd.encodeInfoRequest({ name: "x", infoTypes: [3] })),
      nbd.encodeInfoExport(7, 1, 1),
    ];
    for (let i = 0; i < 20_000; i++) {
      // Half random bytes, half a valid message with a few bytes flipped (gets past magics).
      const base = valid[i % valid.length];
      assert.ok(base);
      const bytes =
        i % 2 === 0 ? Buffer.alloc(next() % 64) : Buffer.from(base.subarray(0, next() % 80));
      for (let j = 0; j < bytes.length; j++) {
        if (i % 2 === 0 || next() % 8 === 0) bytes[j] = next() & 0xff;
      }
      const context = `seed ${seed} iteration ${i} bytes ${bytes.toString("hex")}`;
      try {
        nbd.decodeGreeting(bytes);
        nbd.decodeClientFlags(bytes, 3);
        nbd.decodeOptionHeader(bytes);
        nbd.decodeOptionReplyHeader(bytes);
        nbd.decodeInfoRequest(bytes);
        nbd.decodeInfoRequest(bytes.subarray(Math.min(16, bytes.length)));
        nbd.decodeInfoReply(bytes);
        nbd.decodeExportName(bytes);
        nbd.decodeSimpleReply(bytes);
        const decoded = nbd.decodeRequest(bytes);
        if (decoded.ok) nbd.checkRequest(decoded.value, limits);
      } catch (error) {
        assert.fail(`${context}: ${String(error)}`);
      }
    }
  });
});
