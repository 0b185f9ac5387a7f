/**
 * How an agent talks to its controller: over HTTP with its own agent token, or, in
 * `etherplane up`, by calling the controller in the same process.
 */
import { EtherplaneError, type ErrorCode } from "../../foundation/errors.js";
import type { AgentStatus, DesiredState } from "../agent-protocol.js";
import type { AgentService } from "../controller/agent-service.js";

export interface ControllerLink {
  desired(): Promise<DesiredState>;
  report(status: AgentStatus): Promise<void>;
}

export class InProcessLink implements ControllerLink {
  constructor(
    private readonly agents: AgentService,
    private readonly hostId: string,
  ) {}
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
}
