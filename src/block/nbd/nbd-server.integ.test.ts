/**
 * The NBD server over a real Unix socket and a file-backed BlockDevice: driven by qemu-io and
 * qemu-img (qemu-utils), and by a raw client for what QEMU never sends (out-of-range and
 * malformed requests, pipelined bursts, injected device faults).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { once } from "node:events";
import * as fs from "node:fs/promises";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { EtherplaneError, isEtherplaneError } from "../../foundation/errors.js";
import type { Logger } from "../../foundation/log.js";
import type { BlockDevice } from "../block-device.js";
import { openFileBlockDevice } from "../file/file-block-device.js";
import { startNbdServer, type NbdServer, type NbdServerOptions } from "./nbd-server.js";
import * as nbd from "./protocol.js";

const MiB = 1024 * 1024;
const SIZE = 8 * MiB;

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { timeout: timeoutMs, maxBuffer: 16 * MiB },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const haveQemu = (await run("qemu-io", ["--version"])).code === 0;

/** Deterministic, non-trivial contents (xorshift32) so that copies are checked byte for byte. */
function pattern(bytes: number, seed: number): Buffer {
  const words = new Uint32Array(bytes / 4);
  let state = seed;
  for (let i = 0; i < words.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    words[i] = state >>> 0;
  }
  return Buffer.from(words.buffer);
}

/** Records log records instead of printing them, so tests can assert on warnings. */
function recordingLogger(): Logger & { messages: string[] } {
  const messages: string[] = [];
  const record = (message: string, fields?: Record<string, unknown>) =>
    messages.push(`${message} ${JSON.stringify(fields ?? {})}`);
  return { messages, debug: () => {}, info: record, warn: record, error: record };
}

/** A device wrapper that delays, fails and counts requests (to observe concurrency and FUA). */
class ProbeDevice implements BlockDevice {
  active = 0;
  activeMax = 0;
  flushes = 0;
  delayMs: (offsetBytes: number) => number = () => 0;
  failReadAt: number | undefined;

  constructor(private readonly inner: BlockDevice) {}
  get sizeBytes(): number {
    return this.inner.sizeBytes;
  }
  get readOnly(): boolean {
    return this.inner.readOnly;
  }
  read(buffer: Buffer, offsetBytes: number): Promise<void> {
    return this.track(offsetBytes, () => {
      if (offsetBytes === this.failReadAt) throw new EtherplaneError("IO_ERROR", "injected fault");
      return this.inner.read(buffer, offsetBytes);
    });
  }
  write(buffer: Buffer, offsetBytes: number): Promise<void> {
    return this.track(offsetBytes, () => this.inner.write(buffer, offsetBytes));
  }
  flush(): Promise<void> {
    this.flushes++;
    return this.inner.flush();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  private async track(offsetBytes: number, op: () => Promise<void>): Promise<void> {
    this.active++;
    this.activeMax = Math.max(this.activeMax, this.active);
    try {
      await new Promise((resolve) => setTimeout(resolve, this.delayMs(offsetBytes)));
      await op();
    } finally {
      this.active--;
    }
  }
}

interface Served {
  dir: string;
  imagePath: string;
  socketPath: string;
  uri: string;
  original: Buffer;
  probe: ProbeDevice;
  server: NbdServer;
  log: ReturnType<typeof recordingLogger>;
  close(): Promise<void>;
}

async function serve(
  options: { readOnly?: boolean } & Partial<Omit<NbdServerOptions, "device" | "log">> = {},
): Promise<Served> {
  const { readOnly = false, ...serverOptions } = options;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ep-nbd-"));
  const imagePath = path.join(dir, "disk.img");
  const original = pattern(SIZE, 0x2545f491);
  await fs.writeFile(imagePath, original);
  const device = await openFileBlockDevice(imagePath, { readOnly });
  const probe = new ProbeDevice(device);
  const socketPath = options.socketPath ?? path.join(dir, "nbd.sock");
  const log = recordingLogger();
  let server: NbdServer;
  try {
    server = await startNbdServer({ ...serverOptions, device: probe, socketPath, log });
  } catch (error) {
    await device.close();
    await fs.rm(dir, { recursive: true, force: true });
    throw error;
  }
  const exportPath = options.exportName ?? "";
  return {
    dir,
    imagePath,
    socketPath,
    uri: `nbd+unix:///${exportPath}?socket=${socketPath}`,
    original,
    probe,
    server,
    log,
    close: async () => {
      await server.close();
      await device.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

/** The error serving on `socketPath` fails with; a server started by mistake is closed first. */
async function serveFails(socketPath: string): Promise<unknown> {
  let served: Served;
  try {
    served = await serve({ socketPath });
  } catch (error) {
    return error;
  }
  await served.close();
  assert.fail(`serving on ${socketPath} should have failed`);
}

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function unwrap<T>(decoded: nbd.Decoded<T>): T {
  if (!decoded.ok) assert.fail(decoded.reason);
  return decoded.value;
}

/** A minimal NBD client built on the codec, reading exact byte counts from the socket. */
class RawClient {
  readonly closed: Promise<void>;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private wake: (() => void) | undefined;

  private constructor(readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      this.wake?.();
    });
    socket.on("error", () => {});
    this.closed = new Promise((resolve) =>
      socket.once("close", () => {
        this.ended = true;
        this.wake?.();
        resolve();
      }),
    );
  }

  static async connect(socketPath: string): Promise<RawClient> {
    const socket = net.connect(socketPath);
    await once(socket, "connect");
    return new RawClient(socket);
  }

  write(...parts: Buffer[]): void {
    for (const part of parts) this.socket.write(part);
  }

  async read(n: number, timeoutMs = 5_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.buffered < n) {
      if (this.ended) throw new Error(`connection closed after ${this.buffered} of ${n} bytes`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out with ${this.buffered} of ${n} bytes`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    const all = Buffer.concat(this.chunks);
    this.chunks = [all.subarray(n)];
    this.buffered -= n;
    return all.subarray(0, n);
  }

  /** Reads the greeting and sends the client flags. */
  async hello(clientFlags = nbd.NBD_FLAG_C_FIXED_NEWSTYLE | nbd.NBD_FLAG_C_NO_ZEROES) {
    const greeting = unwrap(nbd.decodeGreeting(await this.read(nbd.GREETING.bytes)));
    this.write(nbd.encodeClientFlags(clientFlags));
    return greeting;
  }

  async optionReply(): Promise<nbd.OptionReplyHeader & { data: Buffer }> {
    const header = unwrap(nbd.decodeOptionReplyHeader(await this.read(nbd.OPTION_REPLY.bytes)));
    return { ...header, data: await this.read(header.dataBytes) };
  }

  /** Sends NBD_OPT_INFO or NBD_OPT_GO and collects replies up to the ACK or an error. */
  async info(option: number, name: string, infoTypes = [nbd.NBD_INFO_BLOCK_SIZE]) {
    this.write(nbd.encodeOption(option, nbd.encodeInfoRequest({ name, infoTypes })));
    const infos: nbd.InfoReply[] = [];
    for (;;) {
      const reply = await this.optionReply();
      assert.equal(reply.option, option);
      if (reply.replyType !== nbd.NBD_REP_INFO) return { replyType: reply.replyType, infos };
      infos.push(unwrap(nbd.decodeInfoReply(reply.data)));
    }
  }

  async go(name = ""): Promise<void> {
    await this.hello();
    const { replyType } = await this.info(nbd.NBD_OPT_GO, name);
    assert.equal(replyType, nbd.NBD_REP_ACK);
  }

  request(fields: Partial<nbd.NbdRequest>, payload?: Buffer): void {
    const request = { flags: 0, type: nbd.NBD_CMD_READ, handle: 0n, offset: 0n, length: 0 };
    this.write(nbd.encodeRequest({ ...request, ...fields }));
    if (payload) this.write(payload);
  }

  /** The next reply; READ data follows a successful reply, sized by `readBytesOf(handle)`. */
  async reply(readBytesOf: (handle: bigint) => number = () => 0) {
    const reply = unwrap(nbd.decodeSimpleReply(await this.read(nbd.SIMPLE_REPLY.bytes)));
    const dataBytes = reply.error === 0 ? readBytesOf(reply.handle) : 0;
    return { ...reply, data: await this.read(dataBytes) };
  }

  async expectClosed(): Promise<void> {
    const timeout = new Promise((_, reject) =>
      setTimeout(() => reject(new Error("server did not close the connection")), 5_000).unref(),
    );
    await Promise.race([this.closed, timeout]);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const qemuSuite = { skip: !haveQemu && "qemu-utils is not installed", timeout: 120_000 };
void describe("NBD server with qemu-io and qemu-img", qemuSuite, () => {
  void it("writes patterns, reads them back and flushes, at both ends of the device", async () => {
    const served = await serve();
    try {
      // A pattern placed in the backing file directly must come back through the server.
      const handle = await fs.open(served.imagePath, "r+");
      await handle.write(Buffer.alloc(64 * 1024, 0x77), 0, 64 * 1024, 2 * MiB);
      await handle.close();
      const last = SIZE - 512;
      const result = await run("qemu-io", [
        "-f",
        "raw",
        ...["-c", "write -P 0xab 0 1M", "-c", "read -P 0xab 0 1M"],
        ...["-c", `write -P 0xcd ${last} 512`, "-c", `read -P 0xcd ${last} 512`],
        ...["-c", "read -P 0x77 2M 64k", "-c", "flush"],
        served.uri,
      ]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.doesNotMatch(result.stdout, /fail/i);

      const expected = Buffer.from(served.original);
      expected.fill(0xab, 0, MiB);
      expected.fill(0x77, 2 * MiB, 2 * MiB + 64 * 1024);
      expected.fill(0xcd, last);
      assert.ok((await fs.readFile(served.imagePath)).equals(expected), "backing file bytes");
      assert.ok(served.probe.flushes >= 1, "qemu-io flush reached the device");

      // The pattern check can fail: a wrong pattern is reported and the exit code says so.
      const wrong = await run("qemu-io", ["-f", "raw", "-c", "read -P 0xab 1M 4k", served.uri]);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stdout, /Pattern verification failed/);
      const stats = served.server.stats();
      assert.equal(stats.bytesWritten, MiB + 512);
      assert.equal(stats.protocolErrors, 0);
      assert.equal(stats.errorReplies, 0);
    } finally {
      await served.close();
    }
  });

  void it("fails a read beyond the end of the device", async () => {
    const served = await serve();
    try {
      // qemu checks the size it was given and never sends this; the raw-client tests below
      // show the server's own EINVAL.
      const result = await run("qemu-io", ["-f", "raw", "-c", `read ${SIZE} 512`, served.uri]);
      assert.equal(result.code, 1);
      assert.match(result.stdout + result.stderr, /read failed/);
    } finally {
      await served.close();
    }
  });

  void it("reports the device size to qemu-img info, for a named export too", async () => {
    const served = await serve({ exportName: "vol-1" });
    try {
      const info = await run("qemu-img", ["info", "--output=json", "-f", "raw", served.uri]);
      assert.equal(info.code, 0, info.stderr);
      assert.equal((JSON.parse(info.stdout) as { "virtual-size": number })["virtual-size"], SIZE);
      const missing = served.uri.replace("vol-1", "other");
      const refused = await run("qemu-img", ["info", "-f", "raw", missing]);
      assert.notEqual(refused.code, 0);
    } finally {
      await served.close();
    }
  });

  void it("lets qemu-img convert copy the whole device", async () => {
    const served = await serve();
    try {
      const copy = path.join(served.dir, "copy.raw");
      const result = await run("qemu-img", ["convert", "-f", "raw", "-O", "raw", served.uri, copy]);
      assert.equal(result.code, 0, result.stderr);
      assert.ok((await fs.readFile(copy)).equals(await fs.readFile(served.imagePath)));
      assert.equal(served.server.stats().bytesRead, SIZE);
    } finally {
      await served.close();
    }
  });

  void it("lets qemu-img convert write a whole image into the device, zero runs included", async () => {
    const served = await serve();
    try {
      // Every third 64 KiB run is zero: qemu may send those as NBD_CMD_WRITE_ZEROES.
      const image = pattern(SIZE, 0x1234567);
      for (let offset = 0; offset < SIZE; offset += 192 * 1024)
        image.fill(0, offset, offset + 65536);
      const source = path.join(served.dir, "source.raw");
      await fs.writeFile(source, image);
      const args = ["convert", "-n", "-f", "raw", "-O", "raw", source, served.uri];
      const result = await run("qemu-img", args);
      assert.equal(result.code, 0, result.stderr);
      assert.ok((await fs.readFile(served.imagePath)).equals(image));
      assert.equal(served.server.stats().bytesWritten, SIZE);
    } finally {
      await served.close();
    }
  });

  void it("serves a read-only device for reading and refuses writes", async () => {
    const served = await serve({ readOnly: true });
    try {
      const write = await run("qemu-io", ["-f", "raw", "-c", "write -P 0x11 0 4k", served.uri]);
      assert.notEqual(write.code, 0, write.stdout);
      const read = await run("qemu-io", ["-r", "-f", "raw", "-c", "read 0 1M", served.uri]);
      assert.equal(read.code, 0, read.stdout + read.stderr);
      assert.ok((await fs.readFile(served.imagePath)).equals(served.original));
    } finally {
      await served.close();
    }
  });
});

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

  void it("close() finishes in-flight requests, then hangs up and removes the socket", async () => {
    const served = await serve();
    const client = await RawClient.connect(served.socketPath);
    try {
      await client.go();
      served.probe.delayMs = () => 200;
      for (const handle of [1n, 2n, 3n])
        client.request({ handle, offset: handle * 512n, length: 512 });
      await until(() => served.probe.active === 3, "three requests in flight");
      const closing = served.server.close();
      const handles = [];
      for (let i = 0; i < 3; i++) {
        const reply = await client.reply(() => 512);
        assert.equal(reply.error, 0);
        handles.push(reply.handle);
      }
      assert.deepEqual(handles.sort(), [1n, 2n, 3n]);
      await client.expectClosed();
      await closing;
      await assert.rejects(fs.lstat(served.socketPath), { code: "ENOENT" });
      await assert.rejects(RawClient.connect(served.socketPath));
    } finally {
      client.destroy();
      await served.close();
    }
  });

  void it("replaces a stale socket file but nothing else", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ep-nbd-"));
    try {
      // A socket file nobody listens on: Node unlinks its socket on close, so move it first.
      const stale = path.join(dir, "stale.sock");
      const old = net.createServer();
      await new Promise<void>((resolve) => old.listen(path.join(dir, "old.sock"), resolve));
      await fs.rename(path.join(dir, "old.sock"), stale);
      await new Promise<void>((resolve) => old.close(() => resolve()));
      assert.ok((await fs.lstat(stale)).isSocket());
      const served = await serve({ socketPath: stale });
      try {
        const client = await RawClient.connect(stale);
        await client.go();
        client.destroy();
        // A live server's socket is left alone.
        assert.ok(isEtherplaneError(await serveFails(stale), "REFUSED"));
      } finally {
        await served.close();
      }

      // A regular file is never removed.
      const file = path.join(dir, "not-a-socket");
      await fs.writeFile(file, "keep me");
      assert.ok(isEtherplaneError(await serveFails(file), "INVALID_ARGUMENT"));
      assert.equal(await fs.readFile(file, "utf8"), "keep me");
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
