/**
 * One client connection to the NBD server: a state machine from the greeting through option
 * haggling to the transmission phase, fed by the socket's bytes (framed by a ByteQueue).
 *
 * Requests run concurrently and are answered as they complete, in any order (proto.md
 * §Transmission: replies match requests by handle). The socket is paused while requests or
 * payload bytes in flight, or reply bytes queued, are at their bounds, and resumed as they drain.
 */
import type * as net from "node:net";
import { errorMessage } from "../../foundation/errors.js";
import { ByteQueue } from "./byte-queue.js";
import { executeRequest, nbdErrorOf } from "./execute-request.js";
import * as nbd from "./protocol.js";
import type { ServerContext } from "./server-context.js";
import { nbdServerLimits } from "./server-limits.js";

type State =
  | { phase: "clientFlags" }
  | { phase: "optionHeader" }
  | { phase: "optionData"; header: nbd.OptionHeader }
  | { phase: "requestHeader" }
  | { phase: "writePayload"; request: nbd.NbdRequest; verdict: nbd.AnswerableVerdict }
  | { phase: "done" };

export class NbdConnection {
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
    void executeRequest(this.ctx, request, verdict.offsetBytes, verdict.lengthBytes, payload)
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
