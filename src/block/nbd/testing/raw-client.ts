/** A minimal NBD client built on the codec, for what QEMU never sends (integration tests). */
import assert from "node:assert/strict";
import { once } from "node:events";
import * as net from "node:net";
import * as nbd from "../protocol.js";

function unwrap<T>(decoded: nbd.Decoded<T>): T {
  if (!decoded.ok) assert.fail(decoded.reason);
  return decoded.value;
}

/** A minimal NBD client built on the codec, reading exact byte counts from the socket. */
export class RawClient {
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
