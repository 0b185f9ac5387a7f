/**
 * The controller's upgraded connections (`Connection: Upgrade`: a console, a migration stream):
 * the one request of the API that fetch cannot make. Everything else is as for ApiClient's other
 * calls, and through the same functions: a timeout until the 101 (the stream itself is then
 * unbounded in time, like the console it carries), a bound on an error reply, an error reply mapped
 * by errorFromReply and a failed connection by errorFromFetchFailure (api-errors.ts), the token
 * masked out of both. Used through ApiClient.upgrade.
 */
import * as http from "node:http";
import * as https from "node:https";
import type { Duplex } from "node:stream";
import type { EtherplaneError } from "../../foundation/errors.js";
import {
  errorFromFetchFailure,
  errorFromReply,
  maskToken,
  type RequestContext,
} from "./api-errors.js";

export interface UpgradeRequest {
  /** The controller, e.g. http://127.0.0.1:7380 (checked by ApiClient). */
  baseUrl: string;
  /** `/api/v1/...`, appended to baseUrl. */
  path: string;
  /** The `Upgrade` header's protocol, e.g. "etherplane-console". */
  protocol: string;
  token: string;
  caPem: string | undefined;
  /** Bounds the connection and the reply's headers (and an error reply's body). */
  timeoutMs: number;
  /** An error reply larger than this is cut: its first bytes say enough. */
  replyBytesMax: number;
}

/** Resolves with the raw connection after `101 Switching Protocols`. */
export function upgradeConnection(options: UpgradeRequest): Promise<Duplex> {
  const context: RequestContext = {
    method: "GET",
    path: options.path,
    baseUrl: options.baseUrl,
  };
  const url = new URL(options.baseUrl + options.path);
  return new Promise((resolve, reject) => {
    const fail = (error: EtherplaneError) => reject(maskToken(error, options.token));
    const secure = url.protocol === "https:";
    const request = (secure ? https.request : http.request)(url, {
      ...(secure && options.caPem !== undefined ? { ca: options.caPem } : {}),
      headers: {
        authorization: `Bearer ${options.token}`,
        connection: "Upgrade",
        upgrade: options.protocol,
      },
    });
    // One timer bounds the connection, the headers and an error reply's body.
    const timer = setTimeout(() => {
      const timeout = new Error(`no answer within ${options.timeoutMs} ms`);
      timeout.name = "TimeoutError";
      request.destroy(timeout);
    }, options.timeoutMs);
    request.once("upgrade", (_response, socket, head) => {
      clearTimeout(timer);
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    request.once("response", (response) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      response.on("data", (chunk: Buffer) => {
        if (bytes >= options.replyBytesMax) return;
        chunks.push(chunk.subarray(0, options.replyBytesMax - bytes));
        bytes += chunk.length;
      });
      response.once("end", () => {
        clearTimeout(timer);
        let payload: unknown;
        try {
          payload = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        } catch {
          // not JSON (or cut): the status says enough
        }
        // Any reply but 101 is a refusal; a 2xx one is not this API (errorFromReply: PROTOCOL).
        fail(errorFromReply(response.statusCode ?? 500, payload, context));
      });
      response.once("error", (cause) => {
        clearTimeout(timer);
        fail(errorFromFetchFailure(cause, { ...context, timeoutMs: options.timeoutMs }));
      });
    });
    request.once("error", (cause) => {
      clearTimeout(timer);
      fail(errorFromFetchFailure(cause, { ...context, timeoutMs: options.timeoutMs }));
    });
    request.end();
  });
}
