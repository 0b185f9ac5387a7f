/**
 * How an agent talks to its controller: over HTTP with its own agent token, or, in
 * `etherplane up`, by calling the controller in the same process.
 */
import * as http from "node:http";
import type { Duplex } from "node:stream";
import { EtherplaneError, type ErrorCode } from "../../foundation/errors.js";
import type { AgentStatus, DesiredState } from "../agent-protocol.js";
import type { AgentService } from "../controller/agent-service.js";
import type { ConsoleBroker } from "../controller/console-broker.js";
import { duplexPair } from "./duplex-pair.js";

export interface ControllerLink {
  desired(): Promise<DesiredState>;
  report(status: AgentStatus): Promise<void>;
  /** Connects to a console session the controller opened for this host. */
  openConsole(sessionId: string): Promise<Duplex>;
}

export class InProcessLink implements ControllerLink {
  constructor(
    private readonly agents: AgentService,
    private readonly hostId: string,
    private readonly consoles?: ConsoleBroker,
  ) {}
  openConsole(sessionId: string): Promise<Duplex> {
    return new Promise((resolve) => {
      if (!this.consoles) throw new EtherplaneError("UNAVAILABLE", "no console broker");
      const [ours, theirs] = duplexPair();
      this.consoles.attach(sessionId, this.hostId, theirs);
      resolve(ours);
    });
  }
  desired(): Promise<DesiredState> {
    return this.agents.desired(this.hostId);
  }
  report(status: AgentStatus): Promise<void> {
    return this.agents.report(this.hostId, status);
  }
}

const REQUEST_TIMEOUT_MS = 10_000;

/** One JSON call to the controller; errors keep the controller's code and message. */
export async function callController<T>(
  baseUrl: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(new URL(path, baseUrl), {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (cause) {
    throw new EtherplaneError(
      "UNAVAILABLE",
      `cannot reach the controller at ${baseUrl}: ${(cause as Error).message}`,
      { cause },
    );
  }
  if (response.status === 204) return undefined as T;
  const payload = (await response.json().catch(() => ({}))) as {
    error?: { code?: string; message?: string };
  };
  if (!response.ok) {
    const code = (payload.error?.code ?? "UNAVAILABLE") as ErrorCode;
    throw new EtherplaneError(
      code,
      `controller: ${payload.error?.message ?? `HTTP ${response.status}`}`,
    );
  }
  return payload as T;
}

export class HttpLink implements ControllerLink {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}
  desired(): Promise<DesiredState> {
    return callController(this.baseUrl, this.token, "GET", "/api/v1/agent/desired");
  }
  report(status: AgentStatus): Promise<void> {
    return callController(this.baseUrl, this.token, "PUT", "/api/v1/agent/status", status);
  }
  openConsole(sessionId: string): Promise<Duplex> {
    return upgradeToConsole(
      new URL(`/api/v1/agent/console/${encodeURIComponent(sessionId)}`, this.baseUrl),
      this.token,
    );
  }
}

/** An `Upgrade: etherplane-console` request; resolves with the raw connection after 101. */
export function upgradeToConsole(url: URL, token: string): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      headers: {
        authorization: `Bearer ${token}`,
        connection: "Upgrade",
        upgrade: "etherplane-console",
      },
      timeout: REQUEST_TIMEOUT_MS,
    });
    request.once("upgrade", (_response, socket, head) => {
      socket.setTimeout(0);
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    request.once("response", (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk.slice(0, 4096)));
      response.once("end", () => {
        let payload: { error?: { code?: string; message?: string } } = {};
        try {
          payload = JSON.parse(text) as typeof payload;
        } catch {
          // not JSON: the status says enough
        }
        reject(
          new EtherplaneError(
            (payload.error?.code ?? "UNAVAILABLE") as ErrorCode,
            payload.error?.message ?? `HTTP ${response.statusCode ?? "?"}`,
          ),
        );
      });
    });
    request.once("timeout", () => request.destroy(new Error("timed out")));
    request.once("error", (cause) =>
      reject(
        new EtherplaneError(
          "UNAVAILABLE",
          `cannot reach the controller at ${url.origin}: ${cause.message}`,
          {
            cause,
          },
        ),
      ),
    );
    request.end();
  });
}
