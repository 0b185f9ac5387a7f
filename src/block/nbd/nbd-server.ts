/**
 * An NBD server exposing one BlockDevice on a Unix socket, so that QEMU, qemu-img and qemu-io use
 * an AoE volume (through the userspace initiator) on a host without kernel modules.
 *
 * Fixed newstyle handshake with NBD_OPT_GO/INFO/EXPORT_NAME/LIST/ABORT, simple replies only
 * (NBD_OPT_STRUCTURED_REPLY is refused; clients fall back). Requests on a connection run
 * concurrently and are answered as they complete, in any order (proto.md §Transmission: replies
 * match requests by handle). The wire format is in protocol.ts; this file is the node:net edge.
 *
 * Bounds: requests executing per connection, payload bytes executing, reply bytes queued in the
 * socket (over any of them the socket is paused until they drain), option count and handshake
 * time, connections per server, and the time close() waits for in-flight requests.
 */
import * as fs from "node:fs/promises";
import * as net from "node:net";
import { assert } from "../../foundation/assert.js";
import { EtherplaneError, errorMessage, isEtherplaneError } from "../../foundation/errors.js";
import { createLogger, type Logger } from "../../foundation/log.js";
import type { BlockDevice } from "../block-device.js";
import * as nbd from "./protocol.js";

export interface NbdServerOptions {
  device: BlockDevice;
  socketPath: string;
  /** The export's name; the default export "" is accepted as well. Default "". */
  exportName?: string;
  log?: Logger;
  /** Requests executing at once on one connection before its socket is paused. Default 64. */
  requestsInFlightMax?: number;
  /**
   * Minimum block size advertised and enforced (offsets and lengths must be multiples): a power
   * of two up to 64 KiB. Default 1; use 512 for devices that cannot do sub-sector I/O.
   */
  blockBytesMin?: number;
}

export interface NbdServerStats {
  connectionsOpen: number;
  connectionsTotal: number;
  /** Transmission-phase requests received (NBD_CMD_DISC included). */
  requests: number;
  bytesRead: number;
  bytesWritten: number;
  /** Requests answered with an NBD error (invalid, out of range, or failed on the device). */
  errorReplies: number;
  /** Connections dropped because the client broke the protocol. */
  protocolErrors: number;
  requestsInFlight: number;
}

export interface NbdServer {
  readonly socketPath: string;
  /** Stops listening, lets in-flight requests finish (bounded), closes clients. Idempotent. */
  close(): Promise<void>;
  stats(): NbdServerStats;
}

const MiB = 1024 * 1024;
export const nbdServerLimits = {
  requestsInFlightMaxDefault: 64,
  requestsInFlightMaxMax: 1024,
  /** Payload bytes executing per connection (READ buffers and WRITE data) before pausing. */
  inFlightBytesMax: 64 * MiB,
  /** Reply bytes queued in one socket before pausing that connection's requests. */
  writeBufferBytesMax: 64 * MiB,
  connectionsMax: 64,
  optionsPerHandshakeMax: 64,
  handshakeTimeoutMs: 30_000,
  closeTimeoutMs: 10_000,
  /** Chunk written repeatedly to serve NBD_CMD_WRITE_ZEROES. */
  zeroChunkBytes: 1 * MiB,
  /** unix(7): sun_path holds 108 bytes including the terminating NUL. */
  socketPathBytesMax: 107,
  /** Device errors logged at warn per connection; later ones go to debug. */
  ioErrorsLoggedMax: 10,
} as const;

let zeroChunk: Buffer | undefined;

interface ServerContext {
  device: BlockDevice;
  exportName: string;
  transmissionFlags: number;
  blockSizes: nbd.BlockSizes;
  exportLimits: nbd.ExportLimits;
  requestsInFlightMax: number;
  log: Logger;
  counters: Omit<NbdServerStats, "connectionsOpen" | "requestsInFlight">;
}

export async function startNbdServer(options: NbdServerOptions): Promise<NbdServer> {
  const { device, socketPath } = options;
  const exportName = options.exportName ?? "";
  const requestsInFlightMax =
    options.requestsInFlightMax ?? nbdServerLimits.requestsInFlightMaxDefault;
  const blockBytesMin = options.blockBytesMin ?? 1;
  validateOptions(options, exportName, requestsInFlightMax, blockBytesMin);
  const log = options.log ?? createLogger("block:nbd");

  let transmissionFlags = nbd.NBD_FLAG_HAS_FLAGS | nbd.NBD_FLAG_SEND_FLUSH | nbd.NBD_FLAG_SEND_FUA;
  transmissionFlags |= device.readOnly ? nbd.NBD_FLAG_READ_ONLY : nbd.NBD_FLAG_SEND_WRITE_ZEROES;
  const ctx: ServerContext = {
    device,
    exportName,
    transmissionFlags,
    blockSizes: {
      minBytes: blockBytesMin,
      preferredBytes: Math.max(4096, blockBytesMin),
      maxBytes: nbd.NBD_PAYLOAD_BYTES_MAX,
    },
    exportLimits: {
      sizeBytes: device.sizeBytes,
      readOnly: device.readOnly,
      payloadBytesMax: nbd.NBD_PAYLOAD_BYTES_MAX,
      blockBytesMin,
    },
    requestsInFlightMax,
    log,
    counters: {
      connectionsTotal: 0,
      requests: 0,
      bytesRead: 0,
      bytesWritten: 0,
      errorReplies: 0,
      protocolErrors: 0,
    },
  };

  await removeStaleSocket(socketPath);
  const connections = new Set<Connection>();
  let closing: Promise<void> | undefined;
  // allowHalfOpen: a client that shuts down its sending side still gets its pending replies.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    if (closing || connections.size >= nbdServerLimits.connectionsMax) {
      log.warn("refusing connection", { open: connections.size, closing: Boolean(closing) });
      socket.destroy();
      return;
    }
    ctx.counters.connectionsTotal++;
    const connection = new Connection(socket, ctx);
    connections.add(connection);
    void connection.closed.then(() => connections.delete(connection));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (cause) =>
      reject(new EtherplaneError("IO_ERROR", `cannot listen on ${socketPath}`, { cause })),
    );
    server.listen(socketPath, () => resolve());
  });
  server.on("error", (error) => log.error("server socket error", { error: errorMessage(error) }));
  log.info("serving", { socketPath, exportName, sizeBytes: device.sizeBytes });

  return {
    socketPath,
    stats: () => {
      let requestsInFlight = 0;
      for (const connection of connections) requestsInFlight += connection.requestsInFlight;
      return { ...ctx.counters, connectionsOpen: connections.size, requestsInFlight };
    },
    close: () => {
      closing ??= (async () => {
        // server.close() stops accepting now; its callback waits for every connection to end.
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const connection of connections) connection.shutdown();
        await stopped;
        log.info("stopped", { socketPath });
      })();
      return closing;
    },
  };
}

function validateOptions(
  options: NbdServerOptions,
  exportName: string,
  requestsInFlightMax: number,
  blockBytesMin: number,
): void {
  const invalid = (key: string, message: string) =>
    new EtherplaneError("INVALID_ARGUMENT", `nbd server ${key}: ${message}`, { params: { key } });
  const pathBytes = Buffer.byteLength(options.socketPath);
  if (pathBytes === 0 || pathBytes > nbdServerLimits.socketPathBytesMax) {
    throw invalid("socketPath", `must be 1 to ${nbdServerLimits.socketPathBytesMax} bytes long`);
  }
  if (Buffer.byteLength(exportName) > nbd.NBD_STRING_BYTES_MAX || exportName.includes("\0")) {
    throw invalid("exportName", `must be at most ${nbd.NBD_STRING_BYTES_MAX} bytes, without NUL`);
  }
  const { requestsInFlightMaxMax } = nbdServerLimits;
  if (!Number.isInteger(requestsInFlightMax) || requestsInFlightMax < 1) {
    throw invalid("requestsInFlightMax", `must be an integer from 1 to ${requestsInFlightMaxMax}`);
  }
  if (requestsInFlightMax > requestsInFlightMaxMax) {
    throw invalid("requestsInFlightMax", `must be an integer from 1 to ${requestsInFlightMaxMax}`);
  }
  const isPow2 = Number.isInteger(blockBytesMin) && (blockBytesMin & (blockBytesMin - 1)) === 0;
  if (!isPow2 || blockBytesMin < 1 || blockBytesMin > 65536) {
    throw invalid("blockBytesMin", "must be a power of two from 1 to 65536");
  }
  const size = options.device.sizeBytes;
  if (!Number.isSafeInteger(size) || size < 0) {
    throw invalid("device", `size ${size} is not a byte count`);
  }
  if (size % blockBytesMin !== 0) {
    // proto.md §Block size constraints: otherwise the last bytes could not be addressed.
    throw invalid("blockBytesMin", `device size ${size} is not a multiple of ${blockBytesMin}`);
  }
}

/** Removes a leftover socket file nobody listens on; refuses to touch anything else. */
async function removeStaleSocket(path: string): Promise<void> {
  let stat;
  try {
    stat = await fs.lstat(path);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new EtherplaneError("IO_ERROR", `cannot stat ${path}: ${errorMessage(cause)}`, { cause });
  }
  if (!stat.isSocket()) {
    throw new EtherplaneError("INVALID_ARGUMENT", `${path} exists and is not a socket`, {
      params: { path },
    });
  }
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false)); // ECONNREFUSED: nobody listens, the file is stale
  });
  if (live) throw new EtherplaneError("REFUSED", `${path} is in use by a running server`);
  await fs.unlink(path);
}

/** An error from the BlockDevice, as the NBD error the client sees (proto.md §Error values). */
function nbdErrorOf(error: unknown): number {
  if (isEtherplaneError(error, "OUT_OF_RANGE")) return nbd.NBD_EINVAL;
  if (isEtherplaneError(error, "REFUSED")) return nbd.NBD_EPERM;
  if (isEtherplaneError(error, "CLOSED")) return nbd.NBD_ESHUTDOWN;
  return nbd.NBD_EIO;
}

/** Received bytes not yet parsed, kept as the chunks that arrived and taken from the front. */
class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The next `n` bytes; a view of the received chunk when it holds them all. */
  take(n: number): Buffer {
    assert(n <= this.length, `take ${n} of ${this.length} queued bytes`);
    this.length -= n;
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n); // n <= bytes already received: bounded by real input
    for (let done = 0; done < n;) {
      const chunk = this.chunks[0];
      assert(chunk !== undefined, "queue holds the bytes it counts");
      const count = Math.min(chunk.length, n - done);
      chunk.copy(out, done, 0, count);
      if (count === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(count);
      done += count;
    }
    return out;
  }

  clear(): void {
    this.chunks = [];
    this.length = 0;
  }
}

type State =
  | { phase: "clientFlags" }
  | { phase: "optionHeader" }
  | { phase: "optionData"; header: nbd.OptionHeader }
  | { phase: "requestHeader" }
  | { phase: "writePayload"; request: nbd.NbdRequest; verdict: nbd.AnswerableVerdict }
  | { phase: "done" };

class Connection {
  readonly closed: Promise<void>;
  requestsInFlight = 0;
  private bytesInFlight = 0;
  private state: State = { phase: "clientFlags" };
  private readonly input = new ByteQueue();
  private noZeroes = false;
  private optionsSeen = 0;
  private ioErrors = 0;
  private inputEnded = false;
  /** No new requests are taken (DISC, ABORT, client EOF, server close); finish and hang up. */
  private draining = false;
  private ending = false;
  private timer: NodeJS.Timeout;

  constructor(
    private readonly socket: net.Socket,
    private readonly ctx: ServerContext,
  ) {
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    void this.closed.then(() => {
      clearTimeout(this.timer);
      this.state = { phase: "done" };
      this.input.clear();
      ctx.log.debug("connection closed");
    });
    socket.on("data", (chunk: Buffer) => {
      this.input.push(chunk);
      this.pump();
    });
    socket.on("end", () => {
      this.inputEnded = true;
      this.pump();
    });
    socket.on("drain", () => this.pump());
    socket.on("error", (error) => ctx.log.debug("socket error", { error: errorMessage(error) }));
    this.timer = setTimeout(
      () => this.hangUp("handshake timed out", false),
      nbdServerLimits.handshakeTimeoutMs,
    );
    ctx.log.debug("connection opened");
    socket.write(nbd.encodeGreeting(nbd.NBD_FLAG_FIXED_NEWSTYLE | nbd.NBD_FLAG_NO_ZEROES));
  }

  /** Server close: in transmission, finish in-flight requests first; otherwise hang up now. */
  shutdown(): void {
    const phase = this.state.phase;
    if (phase !== "requestHeader" && phase !== "writePayload") {
      this.hangUp("server closing", false);
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(
      () => this.hangUp("in-flight requests did not finish in time", false),
      nbdServerLimits.closeTimeoutMs,
    );
    this.drain("server closing");
  }

  private hangUp(reason: string, violation: boolean): void {
    if (this.state.phase === "done") return;
    if (violation) this.ctx.counters.protocolErrors++;
    if (violation) this.ctx.log.warn("closing connection", { reason });
    else this.ctx.log.debug("closing connection", { reason });
    this.state = { phase: "done" };
    this.socket.destroy();
  }

  /** Parses every complete message that the bounds allow, then sets the socket's flow. */
  private pump(): void {
    while (!this.draining && this.state.phase !== "done") {
      const need = this.bytesNeeded();
      if (need === null) break; // bounded: resumed when a request completes or replies drain
      if (this.input.length < need) {
        if (this.inputEnded) this.drain("client closed its side");
        break;
      }
      this.consume(this.input.take(need));
    }
    const wantInput = !this.draining && this.state.phase !== "done" && this.bytesNeeded() !== null;
    if (wantInput && this.socket.isPaused()) this.socket.resume();
    if (!wantInput && !this.socket.isPaused()) this.socket.pause();
    this.maybeEnd();
  }

  /** Bytes the next message needs, or null when the in-flight bounds hold the next request. */
  private bytesNeeded(): number | null {
    switch (this.state.phase) {
      case "clientFlags":
        return nbd.CLIENT_FLAGS.bytes;
      case "optionHeader":
        return nbd.OPTION.bytes;
      case "optionData":
        return this.state.header.dataBytes;
      case "requestHeader": {
        const blocked =
          this.requestsInFlight >= this.ctx.requestsInFlightMax ||
          this.bytesInFlight >= nbdServerLimits.inFlightBytesMax ||
          this.socket.writableLength >= nbdServerLimits.writeBufferBytesMax;
        return blocked ? null : nbd.REQUEST.bytes;
      }
      case "writePayload":
        return this.state.verdict.payloadBytes;
      case "done":
        return null;
    }
  }

  private consume(bytes: Buffer): void {
    const state = this.state;
    switch (state.phase) {
      case "clientFlags": {
        const flags = nbd.decodeClientFlags(
          bytes,
          nbd.NBD_FLAG_FIXED_NEWSTYLE | nbd.NBD_FLAG_NO_ZEROES,
        );
        if (!flags.ok) return this.hangUp(flags.reason, true);
        this.noZeroes = flags.value.noZeroes;
        this.state = { phase: "optionHeader" };
        return;
      }
      case "optionHeader": {
        const header = nbd.decodeOptionHeader(bytes);
        if (!header.ok) return this.hangUp(header.reason, true);
        if (++this.optionsSeen > nbdServerLimits.optionsPerHandshakeMax) {
          return this.hangUp(`more than ${nbdServerLimits.optionsPerHandshakeMax} options`, true);
        }
        this.state = { phase: "optionData", header: header.value };
        return;
      }
      case "optionData":
        this.state = { phase: "optionHeader" };
        return this.handleOption(state.header.option, bytes);
      case "requestHeader": {
        const request = nbd.decodeRequest(bytes);
        if (!request.ok) return this.hangUp(request.reason, true);
        this.ctx.counters.requests++;
        const verdict = nbd.checkRequest(request.value, this.ctx.exportLimits);
        if (verdict.kind === "close") return this.hangUp(verdict.reason, true);
        if (verdict.payloadBytes > 0) {
          this.state = { phase: "writePayload", request: request.value, verdict };
          return;
        }
        return this.dispatch(request.value, verdict, bytes.subarray(0, 0));
      }
      case "writePayload":
        this.state = { phase: "requestHeader" };
        return this.dispatch(state.request, state.verdict, bytes);
      case "done":
        return;
    }
  }

  private send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  private handleOption(option: number, data: Buffer): void {
    const { ctx } = this;
    const matches = (name: string) => name === "" || name === ctx.exportName;
    switch (option) {
      case nbd.NBD_OPT_EXPORT_NAME: {
        // §Option types: an export that cannot be served ends the session (there is no error
        // reply to NBD_OPT_EXPORT_NAME).
        const name = nbd.decodeExportName(data);
        if (!name.ok) return this.hangUp(name.reason, true);
        if (!matches(name.value)) return this.hangUp(`unknown export "${name.value}"`, false);
        this.send(
          nbd.encodeExportNameReply(ctx.device.sizeBytes, ctx.transmissionFlags, this.noZeroes),
        );
        return this.enterTransmission();
      }
      case nbd.NBD_OPT_ABORT:
        this.send(nbd.encodeOptionReply(option, nbd.NBD_REP_ACK));
        return this.drain("client sent NBD_OPT_ABORT");
      case nbd.NBD_OPT_LIST:
        if (data.length !== 0) {
          return this.send(nbd.encodeOptionError(option, nbd.NBD_REP_ERR_INVALID, "data given"));
        }
        this.send(nbd.encodeServerReply(ctx.exportName));
        return this.send(nbd.encodeOptionReply(option, nbd.NBD_REP_ACK));
      case nbd.NBD_OPT_INFO:
      case nbd.NBD_OPT_GO: {
        const request = nbd.decodeInfoRequest(data);
        if (!request.ok) {
          return this.send(nbd.encodeOptionError(option, nbd.NBD_REP_ERR_INVALID, request.reason));
        }
        if (!matches(request.value.name)) {
          const message = `no export named "${request.value.name}"`;
          return this.send(nbd.encodeOptionError(option, nbd.NBD_REP_ERR_UNKNOWN, message));
        }
        this.send(nbd.encodeInfoExport(option, ctx.device.sizeBytes, ctx.transmissionFlags));
        // Sent whether asked for or not: our maximum (32 MiB) is below the default "unlimited",
        // so proto.md §Block size constraints says we SHOULD advertise it.
        this.send(nbd.encodeInfoBlockSize(option, ctx.blockSizes));
        this.send(nbd.encodeOptionReply(option, nbd.NBD_REP_ACK));
        if (option === nbd.NBD_OPT_GO) this.enterTransmission();
        return;
      }
      default:
        // STARTTLS, STRUCTURED_REPLY, meta contexts and unknown options (§NOTLS mode allows UNSUP).
        return this.send(
          nbd.encodeOptionError(option, nbd.NBD_REP_ERR_UNSUP, `option ${option} unsupported`),
        );
    }
  }

  private enterTransmission(): void {
    clearTimeout(this.timer);
    this.state = { phase: "requestHeader" };
    this.ctx.log.debug("transmission phase", { flags: this.ctx.transmissionFlags });
  }

  private dispatch(request: nbd.NbdRequest, verdict: nbd.AnswerableVerdict, payload: Buffer): void {
    if (verdict.kind === "error") {
      this.ctx.counters.errorReplies++;
      this.ctx.log.debug("request refused", { type: request.type, reason: verdict.reason });
      return this.reply(request.handle, verdict.error);
    }
    if (request.type === nbd.NBD_CMD_DISC) return this.drain("client sent NBD_CMD_DISC");
    const bytes = request.type === nbd.NBD_CMD_READ ? verdict.lengthBytes : payload.length;
    this.requestsInFlight++;
    this.bytesInFlight += bytes;
    void this.perform(request, verdict.offsetBytes, verdict.lengthBytes, payload)
      .then(
        (data) => this.reply(request.handle, 0, data),
        (error: unknown) => this.failed(request, verdict.offsetBytes, error),
      )
      .finally(() => {
        this.requestsInFlight--;
        this.bytesInFlight -= bytes;
        this.pump();
      });
  }

  private async perform(
    request: nbd.NbdRequest,
    offsetBytes: number,
    lengthBytes: number,
    payload: Buffer,
  ): Promise<Buffer | undefined> {
    const { device, counters } = this.ctx;
    const fua = (request.flags & nbd.NBD_CMD_FLAG_FUA) !== 0;
    switch (request.type) {
      case nbd.NBD_CMD_READ: {
        // Zeroed, not allocUnsafe: a device that fails to fill it must not leak memory.
        const data = Buffer.alloc(lengthBytes);
        if (lengthBytes > 0) await device.read(data, offsetBytes);
        counters.bytesRead += lengthBytes;
        return data;
      }
      case nbd.NBD_CMD_WRITE:
        if (payload.length > 0) await device.write(payload, offsetBytes);
        counters.bytesWritten += payload.length;
        break;
      case nbd.NBD_CMD_WRITE_ZEROES: {
        zeroChunk ??= Buffer.alloc(nbdServerLimits.zeroChunkBytes);
        for (let done = 0; done < lengthBytes; done += zeroChunk.length) {
          const count = Math.min(zeroChunk.length, lengthBytes - done);
          await device.write(zeroChunk.subarray(0, count), offsetBytes + done);
        }
        counters.bytesWritten += lengthBytes;
        break;
      }
      case nbd.NBD_CMD_FLUSH:
        await device.flush();
        return undefined;
      default:
        assert(false, `checkRequest admitted command ${request.type}`);
    }
    // §Command flags: with FUA, no reply until the written data is on stable storage.
    if (fua) await device.flush();
    return undefined;
  }

  private failed(request: nbd.NbdRequest, offsetBytes: number, error: unknown): void {
    const code = nbdErrorOf(error);
    this.ctx.counters.errorReplies++;
    const fields = { type: request.type, offsetBytes, nbdError: code, error: errorMessage(error) };
    if (++this.ioErrors <= nbdServerLimits.ioErrorsLoggedMax) {
      this.ctx.log.warn("device request failed", fields);
    } else this.ctx.log.debug("device request failed", fields);
    this.reply(request.handle, code);
  }

  /** One simple reply; READ data follows the header only on success (§Request types). */
  private reply(handle: bigint, error: number, data?: Buffer): void {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return; // the client is gone
    socket.cork();
    socket.write(nbd.encodeSimpleReply(handle, error));
    if (error === 0 && data !== undefined && data.length > 0) socket.write(data);
    socket.uncork();
  }

  private drain(reason: string): void {
    if (this.draining) return;
    this.draining = true;
    this.ctx.log.debug("draining connection", { reason });
    this.input.clear();
    if (!this.socket.isPaused()) this.socket.pause();
    this.maybeEnd();
  }

  /** Once draining with nothing in flight: end our side and close when the replies are out. */
  private maybeEnd(): void {
    if (!this.draining || this.requestsInFlight > 0 || this.ending) return;
    if (this.state.phase === "done") return;
    this.ending = true;
    // On a Unix socket, written bytes are already in the peer's receive queue once 'finish'
    // fires, so destroying then loses nothing and does not wait on the client to close.
    this.socket.end(() => this.socket.destroy());
  }
}
