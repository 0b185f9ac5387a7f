/**
 * The one client of the controller's REST API, for the CLI and the agent alike, over the global
 * fetch (and node:http for upgraded connections, api-upgrade.ts): JSON in and out, a bearer
 * token, a timeout on every call, a bound on reply size, and errors mapped once (api-errors.ts).
 * The token is sent in the Authorization header only: it never appears in a message, a cause or
 * a log.
 */
import type { Duplex } from "node:stream";
import { Agent } from "undici";
import type { z } from "zod";
import { assert } from "../../foundation/assert.js";
import { EtherplaneError } from "../../foundation/errors.js";
import { createLogger } from "../../foundation/log.js";
import {
  errorFromFetchFailure,
  errorFromReply,
  maskToken,
  type RequestContext,
} from "./api-errors.js";
import { upgradeConnection } from "./api-upgrade.js";
import { badReply, checkReply } from "./reply-check.js";
import { checkControllerUrl, checkToken } from "./settings.js";

const log = createLogger("cli:client");

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface ApiClientOptions {
  /** The controller, e.g. http://127.0.0.1:7380; request paths are appended (`/api/v1/...`). */
  baseUrl: string;
  token: string;
  /** Bounds each call, reading the reply included. */
  timeoutMs?: number;
  /** Replies larger than this are refused (PROTOCOL) rather than buffered. */
  replyBytesMax?: number;
  /**
   * For an https controller: the CA certificate (PEM) to trust instead of the system's, e.g. the
   * controller's own CA (pinned at join or login).
   */
  caPem?: string;
}

export const defaultTimeoutMs = 30_000;
export const timeoutMsMax = 3_600_000;
export const defaultReplyBytesMax = 16 * 1024 * 1024;

export class ApiClient {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly replyBytesMax: number;
  /** Private (#) so that printing or inspecting the client cannot show it. */
  readonly #token: string;
  /** Connections that trust `caPem` (undici, the same client as the global fetch). */
  readonly #dispatcher: Agent | undefined;
  /** For upgrades, which go through node:https rather than undici. */
  readonly #caPem: string | undefined;

  constructor(options: ApiClientOptions) {
    this.baseUrl = checkControllerUrl(options.baseUrl, "the controller URL");
    this.#token = checkToken(options.token, "the token");
    this.timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
    this.replyBytesMax = options.replyBytesMax ?? defaultReplyBytesMax;
    this.#caPem = options.caPem;
    this.#dispatcher =
      options.caPem === undefined ? undefined : new Agent({ connect: { ca: options.caPem } });
    assert(
      Number.isInteger(this.timeoutMs) && this.timeoutMs > 0 && this.timeoutMs <= timeoutMsMax,
      `ApiClient timeoutMs ${this.timeoutMs} out of 1..${timeoutMsMax}`,
    );
    assert(
      Number.isSafeInteger(this.replyBytesMax) && this.replyBytesMax > 0,
      `ApiClient replyBytesMax ${this.replyBytesMax}`,
    );
  }

  /**
   * Sends `body` (if any) as JSON and returns the JSON reply once it fits `reply`, the schema the
   * route declares (src/api/replies.ts; NoContent for a 204): a reply that does not fit is a
   * PROTOCOL error naming the route and the first field that does not (reply-check.ts).
   */
  async request<S extends z.ZodType>(
    method: HttpMethod,
    path: string,
    reply: S,
    body?: unknown,
  ): Promise<z.output<S>> {
    assert(path.startsWith("/"), `API path "${path}" must start with /`);
    const context: RequestContext = { method, path, baseUrl: this.baseUrl };
    const headers: Record<string, string> = {
      accept: "application/json",
      authorization: `Bearer ${this.#token}`,
    };
    if (body !== undefined) headers["content-type"] = "application/json";
    // Outside the try: a body that cannot be serialised is the caller's bug, not a network error.
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const startMs = Date.now();
    let status: number;
    let text: string;
    try {
      // One signal bounds the connection, the headers and the body read.
      const response = await fetch(this.baseUrl + path, {
        method,
        headers,
        body: payload,
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: "error",
        // Node's fetch takes an undici dispatcher (undici-types lists it).
        ...(this.#dispatcher ? { dispatcher: this.#dispatcher } : {}),
      });
      status = response.status;
      text = await readBounded(response, this.replyBytesMax, context);
    } catch (failure) {
      throw errorFromFetchFailure(failure, { ...context, timeoutMs: this.timeoutMs });
    }
    log.debug("request", { method, path, status, ms: Date.now() - startMs });
    const json = parseJson(text);
    if (status < 200 || status > 299)
      throw this.#masked(errorFromReply(status, json.value, context));
    if (text.length > 0 && !json.ok) {
      const start = text.trimStart().slice(0, 1);
      const what =
        start === "{" || start === "["
          ? "JSON that breaks off or does not parse"
          : `something other than JSON (it starts "${printableStart(text)}")`;
      throw this.#masked(badReply({ ...context, status }, what));
    }
    return checkReply(reply, json.value, { ...context, status });
  }

  /**
   * Opens a server-sent event stream (GET `path`) and yields its text until the controller
   * closes it or `signal` aborts. The connection is bounded by the timeout; the stream is not
   * (it follows the cluster), but each message is (sse-parser.ts). An abort ends it at once,
   * whatever it was doing, and closes the connection.
   */
  async *stream(path: string, signal: AbortSignal): AsyncGenerator<string> {
    assert(path.startsWith("/"), `API path "${path}" must start with /`);
    const context: RequestContext = { method: "GET", path, baseUrl: this.baseUrl };
    // The timeout bounds the connection and the headers; the body then lives under `signal`.
    const abort = new AbortController();
    const forward = () => abort.abort(signal.reason);
    if (signal.aborted) forward();
    else signal.addEventListener("abort", forward, { once: true });
    const timer = setTimeout(
      () => abort.abort(new DOMException("timed out", "TimeoutError")),
      this.timeoutMs,
    );
    let response: Response;
    try {
      response = await fetch(this.baseUrl + path, {
        headers: { accept: "text/event-stream", authorization: `Bearer ${this.#token}` },
        signal: abort.signal,
        redirect: "error",
        ...(this.#dispatcher ? { dispatcher: this.#dispatcher } : {}),
      });
    } catch (failure) {
      signal.removeEventListener("abort", forward);
      if (signal.aborted) return;
      throw errorFromFetchFailure(failure, { ...context, timeoutMs: this.timeoutMs });
    } finally {
      clearTimeout(timer);
    }
    if (response.status !== 200) {
      signal.removeEventListener("abort", forward);
      const text = await readBounded(response, this.replyBytesMax, context);
      throw this.#masked(errorFromReply(response.status, parseJson(text).value, context));
    }
    if (!response.body) return;
    // The abort cancels the body's reader itself, which ends a pending read and closes the
    // connection. fetch's own signal is not enough: undici's Request follows the caller's signal
    // through a WeakRef, so once fetch has resolved a garbage collection can drop the link and
    // the abort never reaches the body (`events --follow` read on after SIGTERM under load;
    // api-stream.test.ts collects garbage to show it).
    const reader = response.body.getReader();
    const cancel = () => void reader.cancel(abort.signal.reason).catch(() => undefined);
    if (abort.signal.aborted) cancel();
    else abort.signal.addEventListener("abort", cancel, { once: true });
    const decoder = new TextDecoder();
    let done = false;
    try {
      while (!abort.signal.aborted) {
        const next = await reader.read();
        if (next.done) break;
        // undici-types leaves the chunk type open; fetch bodies are bytes.
        yield decoder.decode(next.value as Uint8Array, { stream: true });
      }
      done = true;
    } catch (failure) {
      done = true;
      if (signal.aborted) return;
      throw errorFromFetchFailure(failure, { ...context, timeoutMs: this.timeoutMs });
    } finally {
      signal.removeEventListener("abort", forward);
      abort.signal.removeEventListener("abort", cancel);
      // A caller that stops reading early (break, return) closes the connection too.
      if (!done) cancel();
    }
  }

  /**
   * An upgraded connection (`Connection: Upgrade` to `protocol`, e.g. a console) on GET `path`:
   * the timeout bounds it until the controller switches protocols; errors as for `request`.
   */
  upgrade(path: string, protocol: string): Promise<Duplex> {
    assert(path.startsWith("/"), `API path "${path}" must start with /`);
    return upgradeConnection({
      baseUrl: this.baseUrl,
      path,
      protocol,
      token: this.#token,
      caPem: this.#caPem,
      timeoutMs: this.timeoutMs,
      replyBytesMax: this.replyBytesMax,
    });
  }

  #masked(error: EtherplaneError): EtherplaneError {
    return maskToken(error, this.#token);
  }
}

/** Reads the reply as text, refusing it past `bytesMax` without buffering the rest. */
async function readBounded(
  response: Response,
  bytesMax: number,
  context: RequestContext,
): Promise<string> {
  const tooLarge = () =>
    new EtherplaneError(
      "PROTOCOL",
      `the controller's reply to ${context.method} ${context.path} is larger than ${bytesMax} bytes`,
      { params: { method: context.method, path: context.path, bytesMax } },
    );
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > bytesMax) {
    await response.body?.cancel();
    throw tooLarge();
  }
  if (!response.body) return "";
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  // undici-types leaves the chunk type open; fetch bodies are bytes. Leaving the loop early
  // cancels the stream.
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    bytes += chunk.byteLength;
    if (bytes > bytesMax) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The first characters of a reply, for a message: one line, no control characters. */
function printableStart(text: string): string {
  return text
    .slice(0, 40)
    .replace(/[^\x20-\x7e]+/g, " ")
    .trim();
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; value: undefined } {
  if (text.length === 0) return { ok: false, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, value: undefined };
  }
}
