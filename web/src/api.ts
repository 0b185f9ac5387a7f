/**
 * The web UI's one client of the controller's API: every call goes through here (a timeout on
 * each, the token in a private field, errors parsed into ApiError). Lists are read through
 * `items()`, which also takes a paginated `{items, nextCursor}` shape.
 */
import type {
  AuditEntry,
  Domain,
  Host,
  HostSeries,
  Network,
  Pool,
  Task,
  Token,
  Volume,
  WhoAmI,
} from "./types";

const CALL_TIMEOUT_MS = 15_000;

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

export type DomainAction = "start" | "shutdown" | "reboot" | "destroy" | "pause" | "unpause";
export type LiveChange = { topics: string[] };

function items<T>(body: unknown, key: string): T[] {
  const record = body as Record<string, unknown>;
  const list = Array.isArray(record["items"]) ? record["items"] : record[key];
  return Array.isArray(list) ? (list as T[]) : [];
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

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
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
    if (response.status === 204) return undefined as T;
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
    return parsed as T;
  }

  whoami = () => this.call<WhoAmI>("GET", "/api/v1/whoami");
  hosts = async () => items<Host>(await this.call("GET", "/api/v1/hosts"), "hosts");
  pools = async () => items<Pool>(await this.call("GET", "/api/v1/pools"), "pools");
  volumes = async () => items<Volume>(await this.call("GET", "/api/v1/volumes"), "volumes");
  domains = async () => items<Domain>(await this.call("GET", "/api/v1/domains"), "domains");
  tasks = async () => items<Task>(await this.call("GET", "/api/v1/tasks?limit=50"), "tasks");
  task = async (id: string) =>
    (await this.call<{ task: Task }>("GET", `/api/v1/tasks/${encodeURIComponent(id)}`)).task;

  networks = async () => items<Network>(await this.call("GET", "/api/v1/networks"), "networks");
  tokens = async () => items<Token>(await this.call("GET", "/api/v1/tokens?limit=500"), "tokens");
  createToken = (spec: { name: string; role: string; expiresInSeconds?: number }) =>
    this.call<{ token: Token; secret: string }>("POST", "/api/v1/tokens", spec);
  revokeToken = (id: string) =>
    this.call<void>("DELETE", `/api/v1/tokens/${encodeURIComponent(id)}`);
  createNetwork = (spec: { host: string; name: string; uplink?: string; vlanId?: number }) =>
    this.call<{ network: Network }>("POST", "/api/v1/networks", spec);
  deleteNetwork = (id: string) =>
    this.call<void>("DELETE", `/api/v1/networks/${encodeURIComponent(id)}`);
  /** The newest `limit` audit entries, oldest first. */
  audit = async (limit: number) =>
    (await this.call<{ entries: AuditEntry[] }>("GET", `/api/v1/audit?limit=${limit}`)).entries;
  tasksPage = (state: string, cursor: string | null) =>
    this.call<{ tasks: Task[]; nextCursor: string | null }>(
      "GET",
      `/api/v1/tasks?limit=100${state ? `&state=${state}` : ""}${
        cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""
      }`,
    );
  hostSeries = async () =>
    (await this.call<{ hosts: HostSeries[] }>("GET", "/api/v1/metrics/hosts")).hosts;

  importDomain = (config: string, source: string) =>
    this.call<{ domain: Domain; warnings: string[] }>("POST", "/api/v1/domains", {
      config,
      source,
    });
  updateDomain = (ref: string, config: string, generation: number) =>
    this.call<{ domain: Domain; changes: string[]; warnings: string[] }>(
      "PUT",
      `/api/v1/domains/${encodeURIComponent(ref)}`,
      { config, source: `${ref}.cfg`, generation },
    );
  deleteDomain = (ref: string) =>
    this.call<void>("DELETE", `/api/v1/domains/${encodeURIComponent(ref)}`);
  domainAction = (ref: string, action: DomainAction) =>
    this.call<{ domain: Domain; task: Task }>(
      "POST",
      `/api/v1/domains/${encodeURIComponent(ref)}/${action}`,
      action === "start" || action === "shutdown" ? {} : undefined,
    );
  /** A live migration (or offline: shut down and start there); no host: placement chooses. */
  migrateDomain = (ref: string, host: string | null, live: boolean) =>
    this.call<{ domain: Domain; task: Task }>(
      "POST",
      `/api/v1/domains/${encodeURIComponent(ref)}/migrate`,
      { ...(host ? { host } : {}), live },
    );
  consoleTicket = (domain: string) =>
    this.call<{ ticket: string; path: string }>("POST", "/api/v1/console-tickets", { domain });

  createVolume = (spec: { name: string; sizeBytes: number; pool?: string }) =>
    this.call<{ volume: Volume; task: Task }>("POST", "/api/v1/volumes", spec);
  copyVolume = (ref: string, kind: "snapshot" | "clone", name: string) =>
    this.call<{ volume: Volume; task: Task }>(
      "POST",
      `/api/v1/volumes/${encodeURIComponent(ref)}/${kind}`,
      { name },
    );
  resizeVolume = (ref: string, sizeBytes: number) =>
    this.call<{ volume: Volume; task: Task }>(
      "POST",
      `/api/v1/volumes/${encodeURIComponent(ref)}/resize`,
      { sizeBytes },
    );
  exportVolume = (ref: string, exported: boolean) =>
    this.call<{ volume: Volume; task: Task }>(
      "POST",
      `/api/v1/volumes/${encodeURIComponent(ref)}/${exported ? "export" : "unexport"}`,
    );
  volumeAccess = (
    ref: string,
    action: "allow" | "deny",
    who: { macs?: string[]; hosts?: string[]; everyone?: boolean },
  ) =>
    this.call<{ volume: Volume; task: Task }>(
      "POST",
      `/api/v1/volumes/${encodeURIComponent(ref)}/${action}`,
      who,
    );
  deleteVolume = (ref: string) =>
    this.call<{ volume: Volume; task: Task }>(
      "DELETE",
      `/api/v1/volumes/${encodeURIComponent(ref)}`,
    );

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
          onChange(JSON.parse(data) as LiveChange);
      }
    }
  }
}
