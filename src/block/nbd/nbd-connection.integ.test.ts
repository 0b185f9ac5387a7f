/**
 * One NBD connection's state machine, driven by a raw client for what QEMU never sends: every
 * option, malformed and out-of-range requests, protocol violations, pipelined bursts against
 * the in-flight bounds, and injected device faults.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import { describe, it } from "node:test";
import * as nbd from "./protocol.js";
import { RawClient } from "./testing/raw-client.js";
import { MiB, SIZE, serve } from "./testing/served-device.js";

void describe("NBD server protocol edges, with a raw client", { timeout: 60_000 }, () => {
  void it("negotiates with NBD_OPT_LIST/INFO/GO and refuses what it does not offer", async () => {
    const served = await serve({ exportName: "vol" });
    const client = await RawClient.connect(served.socketPath);
    try {
      const greeting = await client.hello();
      assert.equal(greeting.handshakeFlags, nbd.NBD_FLAG_FIXED_NEWSTYLE | nbd.NBD_FLAG_NO_ZEROES);

      client.write(nbd.encodeOption(nbd.NBD_OPT_STRUCTURED_REPLY));
      assert.equal((await client.optionReply()).replyType, nbd.NBD_REP_ERR_UNSUP);
      client.write(nbd.encodeOption(nbd.NBD_OPT_LIST));
      const server = await client.optionReply();
      assert.equal(server.replyType, nbd.NBD_REP_SERVER);
      assert.equal(server.data.toString("hex"), "00000003" + Buffer.from("vol").toString("hex"));
      assert.equal((await client.optionReply()).replyType, nbd.NBD_REP_ACK);
      client.write(nbd.encodeOption(nbd.NBD_OPT_LIST, Buffer.from("x")));
      assert.equal((await client.optionReply()).replyType, nbd.NBD_REP_ERR_INVALID);

      assert.equal(
        (await client.info(nbd.NBD_OPT_INFO, "nope")).replyType,
        nbd.NBD_REP_ERR_UNKNOWN,
      );
      client.write(nbd.encodeOption(nbd.NBD_OPT_INFO, Buffer.from("0000ffff", "hex")));
      assert.equal((await client.optionReply()).replyType, nbd.NBD_REP_ERR_INVALID);
      const info = await client.info(nbd.NBD_OPT_INFO, "vol");
      assert.equal(info.replyType, nbd.NBD_REP_ACK);
      const flags =
        nbd.NBD_FLAG_HAS_FLAGS |
        nbd.NBD_FLAG_SEND_FLUSH |
        nbd.NBD_FLAG_SEND_FUA |
        nbd.NBD_FLAG_SEND_WRITE_ZEROES;
      assert.deepEqual(info.infos, [
        { type: nbd.NBD_INFO_EXPORT, export: { sizeBytes: BigInt(SIZE), flags } },
        {
          type: nbd.NBD_INFO_BLOCK_SIZE,
          blockSizes: { minBytes: 1, preferredBytes: 4096, maxBytes: 32 * MiB },
        },
      ]);

      // GO with the default export "" enters transmission.
      assert.equal((await client.info(nbd.NBD_OPT_GO, "")).replyType, nbd.NBD_REP_ACK);
      client.request({ handle: 7n, offset: 4096n, length: 512 });
      const reply = await client.reply(() => 512);
      assert.equal(reply.handle, 7n);
      assert.ok(reply.data.equals(served.original.subarray(4096, 4608)));
      client.request({ type: nbd.NBD_CMD_DISC });
      await client.expectClosed();
    } finally {
      client.destroy();
      await served.close();
    }
  });

  void it("serves NBD_OPT_EXPORT_NAME, with the 124 zeroes unless NO_ZEROES", async () => {
    const served = await serve();
    try {
      for (const clientFlags of [nbd.NBD_FLAG_C_FIXED_NEWSTYLE, 3]) {
        const client = await RawClient.connect(served.socketPath);
        await client.hello(clientFlags);
        client.write(nbd.encodeOption(nbd.NBD_OPT_EXPORT_NAME));
        const noZeroes = clientFlags === 3;
        const reply = await client.read(noZeroes ? 10 : 134);
        assert.equal(reply.readBigUInt64BE(0), BigInt(SIZE));
        assert.equal(reply.readUInt16BE(8) & nbd.NBD_FLAG_HAS_FLAGS, 1);
        assert.ok(reply.subarray(10).every((byte) => byte === 0));
        client.request({ handle: 1n, length: 16 });
        assert.ok((await client.reply(() => 16)).data.equals(served.original.subarray(0, 16)));
        client.destroy();
      }
      // An unknown export cannot be refused politely after NBD_OPT_EXPORT_NAME: hang up.
      const client = await RawClient.connect(served.socketPath);
      await client.hello();
      client.write(nbd.encodeOption(nbd.NBD_OPT_EXPORT_NAME, Buffer.from("nope")));
      await client.expectClosed();
    } finally {
      await served.close();
    }
  });

  void it("answers invalid and out-of-range requests with errors and keeps serving", async () => {
    const served = await serve();
    const client = await RawClient.connect(served.socketPath);
    try {
      await client.go();
      const sector = Buffer.alloc(512, 0x3c);
      const readBytes = new Map<bigint, number>();
      const read = (handle: bigint, offset: number, length: number, flags = 0) => {
        readBytes.set(handle, length);
        client.request({ handle, offset: BigInt(offset), length, flags });
      };
      read(1n, SIZE - 256, 512); // EINVAL: past the end
      read(2n, 0, 32 * MiB + 1); // EINVAL: above the maximum block size
      client.request(
        { type: nbd.NBD_CMD_WRITE, handle: 3n, offset: BigInt(SIZE), length: 512 },
        sector,
      ); // ENOSPC
      client.request({ type: nbd.NBD_CMD_TRIM, handle: 4n, length: 512 }); // EINVAL: not offered
      read(5n, 0, 512, nbd.NBD_CMD_FLAG_DF); // EINVAL: flag not offered
      const fua = nbd.NBD_CMD_FLAG_FUA;
      client.request(
        { type: nbd.NBD_CMD_WRITE, flags: fua, handle: 6n, offset: 4096n, length: 512 },
        sector,
      );
      client.request({
        type: nbd.NBD_CMD_WRITE_ZEROES,
        handle: 7n,
        offset: BigInt(MiB),
        length: 3 * MiB,
      });
      read(8n, SIZE - 512, 512);
      client.request({ type: nbd.NBD_CMD_FLUSH, handle: 9n });
      read(10n, 0, 0); // zero-length read: success, no data

      const errors = new Map<bigint, number>();
      let lastSector: Buffer | undefined;
      for (let i = 0; i < 10; i++) {
        const reply = await client.reply((handle) => readBytes.get(handle) ?? 0);
        assert.ok(!errors.has(reply.handle), `one reply per handle (${reply.handle})`);
        errors.set(reply.handle, reply.error);
        if (reply.handle === 8n) lastSector = reply.data;
      }
      assert.deepEqual(
        [...errors.entries()].sort((a, b) => Number(a[0] - b[0])),
        [
          [1n, nbd.NBD_EINVAL],
          [2n, nbd.NBD_EINVAL],
          [3n, nbd.NBD_ENOSPC],
          [4n, nbd.NBD_EINVAL],
          [5n, nbd.NBD_EINVAL],
          [6n, 0],
          [7n, 0],
          [8n, 0],
          [9n, 0],
          [10n, 0],
        ],
      );
      assert.ok(lastSector?.equals(served.original.subarray(SIZE - 512)));
      assert.ok(served.probe.flushes >= 2, "FUA write and FLUSH both flushed the device");

      const expected = Buffer.from(served.original);
      sector.copy(expected, 4096);
      expected.fill(0, MiB, 4 * MiB);
      assert.ok((await fs.readFile(served.imagePath)).equals(expected), "backing file bytes");
      const stats = served.server.stats();
      assert.equal(stats.errorReplies, 5);
      assert.equal(stats.protocolErrors, 0);
    } finally {
      client.destroy();
      await served.close();
    }
  });

  void it("hangs up on bad magic, oversize writes and options, and unknown flags", async () => {
    const served = await serve();
    try {
      const cases: Array<[string, (client: RawClient) => Promise<void>]> = [
        [
          "bad request magic",
          async (c) => {
            await c.go();
            c.write(Buffer.alloc(28, 0xee));
          },
        ],
        [
          "write above the maximum",
          async (c) => {
            await c.go();
            c.request({ type: nbd.NBD_CMD_WRITE, handle: 1n, length: 0xffffffff });
          },
        ],
        [
          "unknown client flag",
          async (c) => {
            await c.hello(0x10);
          },
        ],
        [
          "1 GiB option",
          async (c) => {
            await c.hello();
            const header = nbd.encodeOption(nbd.NBD_OPT_GO);
            header.writeUInt32BE(1024 * MiB, nbd.OPTION.length);
            c.write(header);
          },
        ],
      ];
      for (const [name, act] of cases) {
        const client = await RawClient.connect(served.socketPath);
        await act(client);
        await client
          .expectClosed()
          .catch((error: Error) => assert.fail(`${name}: ${error.message}`));
      }
      assert.equal(served.server.stats().protocolErrors, cases.length);
      assert.equal(served.log.messages.filter((m) => m.startsWith("closing connection")).length, 4);

      // The server still serves.
      const client = await RawClient.connect(served.socketPath);
      await client.go();
      client.request({ handle: 1n, length: 8 });
      assert.equal((await client.reply(() => 8)).error, 0);
      client.destroy();
    } finally {
      await served.close();
    }
  });

  void it("runs requests concurrently, replies out of order, and bounds those in flight", async () => {
    const served = await serve({ requestsInFlightMax: 4 });
    const client = await RawClient.connect(served.socketPath);
    try {
      await client.go();
      served.probe.delayMs = (offset) => (offset === 0 ? 150 : 5);
      const count = 64;
      const requests = Array.from({ length: count }, (_, i) =>
        nbd.encodeRequest({
          flags: 0,
          type: 0,
          handle: BigInt(i),
          offset: BigInt(i * 4096),
          length: 4096,
        }),
      );
      client.write(Buffer.concat(requests)); // one burst: the server must pause, not queue all

      const order: bigint[] = [];
      for (let i = 0; i < count; i++) {
        const reply = await client.reply(() => 4096);
        assert.equal(reply.error, 0);
        const offset = Number(reply.handle) * 4096;
        assert.ok(reply.data.equals(served.original.subarray(offset, offset + 4096)));
        order.push(reply.handle);
      }
      assert.deepEqual(
        [...order].sort((a, b) => Number(a - b)),
        requests.map((_, i) => BigInt(i)),
      );
      assert.notEqual(order[0], 0n, "the slow first request did not hold the others back");
      assert.equal(served.probe.activeMax, 4, "four requests ran at once, never more");
    } finally {
      client.destroy();
      await served.close();
    }
  });

  void it("answers device faults with EIO and carries on", async () => {
    const served = await serve();
    const client = await RawClient.connect(served.socketPath);
    try {
      await client.go();
      served.probe.failReadAt = 8192;
      client.request({ handle: 1n, offset: 8192n, length: 4096 });
      const failed = await client.reply(() => 4096);
      assert.deepEqual([failed.handle, failed.error, failed.data.length], [1n, nbd.NBD_EIO, 0]);
      client.request({ handle: 2n, offset: 0n, length: 4096 });
      const next = await client.reply(() => 4096);
      assert.equal(next.error, 0);
      assert.ok(next.data.equals(served.original.subarray(0, 4096)));
      assert.ok(served.log.messages.some((m) => m.includes("injected fault")));
    } finally {
      client.destroy();
      await served.close();
    }
  });
});
