/**
 * The web UI's one client of the controller's API: every call goes through here (a timeout on
 * each, the token in a private field, errors parsed into ApiError) and every reply is checked
 * against the schema its route declares (src/api/replies.ts, as the CLI's client does): a reply
 * that does not fit is a PROTOCOL error shown on the page, never rendered.
 */
import type { z } from "zod";
import {
  AuditListReply,
  ChangeMessage,
  ConsoleTicketReply,
  DomainImportResponse,
  DomainListReply,
  DomainTaskReply,
  HostListReply,
  HostMetricsReply,
  NetworkListReply,
  NetworkReply,
  NoContent,
  PoolListReply,
  TaskListReply,
  TaskReply,
  TokenCreatedReply,
  TokenListReply,
  VolumeListReply,
  VolumeTaskResponse,
  WhoAmIReply,
} from "../../src/api/replies.js";

const CALL_TIMEOUT_MS = 15_000;
/** A field quoted from a reply that does not fit is cut to this. */
const QUOTE_CHARS_MAX = 200;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export type Method = "GET" | "POST" | "PUT" | "DELETE";
export type DomainAction = "start" | "shutdown" | "reboot" | "destroy" | "pause" | "unpause";
export type LiveChange = z.output<typeof ChangeMessage>;

/**
 * `value` once it fits `schema`, else a PROTOCOL ApiError naming the first field that does not.
 * Fields the schema does not know (a newer controller's) are no reason to refuse a reply.
 */
export function checkReply<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
): z.output<S> {
  const result = schema.safeParse(value);
  const issue = result.error?.issues.find((i) => i.code !== "unrecognized_keys");
  // Why the cast: the schemas have no transforms or defaults, so what fits is what they output.
  if (!issue) return value as z.output<S>;
  const field = issue.path.map((key) => (typeof key === "number" ? `[${key}]` : `.${String(key)}`));
  const where = field.length === 0 ? "the reply" : field.join("").replace(/^\./, "");
  throw new ApiError(
    0,
    "PROTOCOL",
    `${what}: the controller's reply does not fit this page (${where}: ${issue.message})`.slice(
      0,
      QUOTE_CHARS_MAX,
    ) + ". Is the controller the version this page came from? Reload the page.",
    where,
  );
}

export class Api {
  readonly #token: string;
  /** Told once when the controller no longer takes the token (revoked, expired): sign-in again. */
  onSignedOut: ((reason: string) => void) | null = null;

  constructor(token: string) {
    this.#token = token;
  }

  #refused(status: number, message: string): void {
    if (status !== 401 || !this.onSignedOut) return;
    const tell = this.onSignedOut;
    this.onSignedOut = null;
    tell(message);
  }

  async call<S extends z.ZodType>(method: Method, path: string, reply: S, body?: unknown) {
    let response: Response;
    try {
      response = await fetch(path, {
        method,
        headers: {
          authorization: `Bearer ${this.#token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      });
    } catch (error) {
      throw new ApiError(0, "UNAVAILABLE", `the controller did not answer: ${String(error)}`);
    }
    if (response.status === 204) return checkReply(reply, undefined, `${method} ${path}`);
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: reported below with the status
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string; field?: string } })
        ?.error;
      this.#refused(response.status, error?.message ?? "the token was refused");
      throw new ApiError(
        response.status,
        error?.code ?? "HTTP_" + response.status,
        error?.message ?? `${method} ${path}: HTTP ${response.status}`,
        error?.field,
      );
    }
    return checkReply(reply, parsed, `${method} ${path}`);
  }

  whoami = () => this.call("GET", "/api/v1/whoami", WhoAmIReply);
  hosts = async () => (await this.call("GET", "/api/v1/hosts", HostListReply)).hosts;
  pools = async () => (await this.call("GET", "/api/v1/pools", PoolListReply)).pools;
  volumes = async () => (await this.call("GET", "/api/v1/volumes", VolumeListReply)).volumes;
  domains = async () => (await this.call("GET", "/api/v1/domains", DomainListReply)).domains;
  tasks = async () => (await this.call("GET", "/api/v1/tasks?limit=50", TaskListReply)).tasks;
  task = async (id: string) =>
    (await this.call("GET", `/api/v1/tasks/${encodeURIComponent(id)}`, TaskReply)).task;

  networks = async () => (await this.call("GET", "/api/v1/networks", NetworkListReply)).networks;
  tokens = async () => (await this.call("GET", "/api/v1/tokens?limit=500", TokenListReply)).tokens;
  createToken = (spec: { name: string; role: string; expiresInSeconds?: number }) =>
    this.call("POST", "/api/v1/tokens", TokenCreatedReply, spec);
  revokeToken = (id: string) =>
    this.call("DELETE", `/api/v1/tokens/${encodeURIComponent(id)}`, NoContent);
  createNetwork = (spec: { host: string; name: string; uplink?: string; vlanId?: number }) =>
    this.call("POST", "/api/v1/networks", NetworkReply, spec);
  deleteNetwork = (id: string) =>
    this.call("DELETE", `/api/v1/networks/${encodeURIComponent(id)}`, NoContent);
  /** The newest `limit` audit entries, oldest first. */
  audit = async (limit: number) =>
    (await this.call("GET", `/api/v1/audit?limit=${limit}`, AuditListReply)).entries;
  tasksPage = (state: string, cursor: string | null) =>
    this.call(
      "GET",
      `/api/v1/tasks?limit=100${state ? `&state=${state}` : ""}${
        cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""
      }`,
      TaskListReply,
    );
  hostSeries = async () =>
    (await this.call("GET", "/api/v1/metrics/hosts", HostMetricsReply)).hosts;

  importDomain = (config: string, source: string) =>
    this.call("POST", "/api/v1/domains", DomainImportResponse, { config, source });
  updateDomain = (ref: string, config: string, generation: number) =>
    this.call("PUT", `/api/v1/domains/${encodeURIComponent(ref)}`, DomainImportResponse, {
      config,
      source: `${ref}.cfg`,
      generation,
    });
  deleteDomain = (ref: string) =>
    this.call("DELETE", `/api/v1/domains/${encodeURIComponent(ref)}`, NoContent);
  domainAction = (ref: string, action: DomainAction) =>
    this.call(
      "POST",
      `/api/v1/domains/${encodeURIComponent(ref)}/${action}`,
      DomainTaskReply,
      action === "start" || action === "shutdown" ? {} : undefined,
    );
  /** A live migration (or offline: shut down and start there); no host: placement chooses. */
  migrateDomain = (ref: string, host: string | null, live: boolean) =>
    this.call("POST", `/api/v1/domains/${encodeURIComponent(ref)}/migrate`, DomainTaskReply, {
      ...(host ? { host } : {}),
      live,
    });
  consoleTicket = (domain: string) =>
    this.call("POST", "/api/v1/console-tickets", ConsoleTicketReply, { domain });

  createVolume = (spec: { name: string; sizeBytes: number; pool?: string }) =>
    this.call("POST", "/api/v1/volumes", VolumeTaskResponse, spec);
  copyVolume = (ref: string, kind: "snapshot" | "clone", name: string) =>
    this.call("POST", `/api/v1/volumes/${encodeURIComponent(ref)}/${kind}`, VolumeTaskResponse, {
      name,
    });
  resizeVolume = (ref: string, sizeBytes: number) =>
    this.call("POST", `/api/v1/volumes/${encodeURIComponent(ref)}/resize`, VolumeTaskResponse, {
      sizeBytes,
    });
  exportVolume = (ref: string, exported: boolean) =>
    this.call(
      "POST",
      `/api/v1/volumes/${encodeURIComponent(ref)}/${exported ? "export" : "unexport"}`,
      VolumeTaskResponse,
    );
  volumeAccess = (
    ref: string,
    action: "allow" | "deny",
    who: { macs?: string[]; hosts?: string[]; everyone?: boolean },
  ) =>
    this.call(
      "POST",
      `/api/v1/volumes/${encodeURIComponent(ref)}/${action}`,
      VolumeTaskResponse,
      who,
    );
  deleteVolume = (ref: string) =>
    this.call("DELETE", `/api/v1/volumes/${encodeURIComponent(ref)}`, VolumeTaskResponse);

  /**
   * Follows the controller's change feed (server-sent events read with fetch, which can carry the
   * token where EventSource cannot) until `signal` aborts or the stream ends.
   */
  async follow(onChange: (change: LiveChange) => void, signal: AbortSignal): Promise<void> {
    const response = await fetch("/api/v1/events", {
      headers: { authorization: `Bearer ${this.#token}`, accept: "text/event-stream" },
      signal,
    });
    if (response.status === 401) this.#refused(401, "the token was refused");
    if (!response.ok || !response.body)
      throw new ApiError(response.status, "HTTP_" + response.status, "no event stream");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    while (true) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      if (buffer.length > 1024 * 1024) throw new ApiError(0, "PROTOCOL", "event too long");
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if ((event === "change" || event === "hello") && data)
          onChange(checkReply(ChangeMessage, JSON.parse(data), `the event stream's ${event}`));
      }
    }
  }
}
