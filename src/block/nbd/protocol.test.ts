/**
 * The NBD protocol as a whole: layout sizes, a real client's captured byte stream through every
 * decoder, and seeded hostile input that no decoder may throw on.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import * as nbd from "./protocol.js";
import { limits, reasonOf, request, unwrap } from "./testing/codec-test-helpers.js";

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
