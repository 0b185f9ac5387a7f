/**
 * How an agent talks to its controller: over HTTP(S) with its own agent token, or, in
 * `etherplane up`, by calling the controller in the same process.
 */
import type { Duplex } from "node:stream";
import { ApiClient } from "../../cli/client/api-client.js";
import { EtherplaneError } from "../../foundation/errors.js";
import { MIGRATION_UPGRADE, type AgentStatus, type DesiredState } from "../agent-protocol.js";
import type { AgentService } from "../controller/agent-service.js";
import type { ConsoleBroker } from "../controller/console-broker.js";
import type { MigrationBroker } from "../controller/migration-broker.js";
import { LONG_POLL_WAIT_MS_MAX } from "../controller/desired-watch.js";
import type { LeaseGrant } from "../controller/host-liveness.js";
import { duplexPair } from "./duplex-pair.js";
import {
  DesiredStateOrNoChange,
  DesiredStateSchema,
  LeaseGrantSchema,
  NoContent,
} from "../../api/replies.js";

export interface ControllerLink {
  desired(): Promise<DesiredState>;
  /** The desired state once its revision is not `after`; null if it did not change in `waitMs`. */
  desiredAfter(after: string, waitMs: number): Promise<DesiredState | null>;
  /** Renews this host's lease (host-liveness.ts). */
  renewLease(): Promise<LeaseGrant>;
  report(status: AgentStatus): Promise<void>;
  /** Connects to a console session the controller opened for this host. */
  openConsole(sessionId: string): Promise<Duplex>;
  /** Connects to a live migration session the controller opened for this host. */
  openMigration(sessionId: string): Promise<Duplex>;
}

export class InProcessLink implements ControllerLink {
  constructor(
    private readonly agents: AgentService,
    private readonly hostId: string,
    private readonly consoles?: ConsoleBroker,
    private readonly migrations?: MigrationBroker,
  ) {}
  openMigration(sessionId: string): Promise<Duplex> {
    return new Promise((resolve) => {
      if (!this.migrations) throw new EtherplaneError("UNAVAILABLE", "no migration broker");
      const [ours, theirs] = duplexPair();
      this.migrations.attach(sessionId, this.hostId, theirs);
      resolve(ours);
    });
  }
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
  desiredAfter(after: string, waitMs: number): Promise<DesiredState | null> {
    return this.agents.desiredAfter(this.hostId, after, waitMs);
  }
  renewLease(): Promise<LeaseGrant> {
    return this.agents.renew(this.hostId);
  }
  report(status: AgentStatus): Promise<void> {
    return this.agents.report(this.hostId, status);
  }
}

const REQUEST_TIMEOUT_MS = 10_000;
/** A lease renewal that takes longer than this is as good as lost: the next one goes out. */
const LEASE_TIMEOUT_MS = 2_000;

/**
 * An agent's calls through the one controller client (ApiClient): a timeout and a reply bound on
 * each, errors mapped by api-errors.ts, the console and migration streams by ApiClient.upgrade.
 */
export class HttpLink implements ControllerLink {
  private readonly client: ApiClient;
  private readonly leaseClient: ApiClient;
  private readonly watchClient: ApiClient;

  constructor(
    baseUrl: string,
    token: string,
    /** The controller's CA (pinned at join), for an https controller. */
    caPem?: string,
  ) {
    this.client = new ApiClient({
      baseUrl,
      token,
      timeoutMs: REQUEST_TIMEOUT_MS,
      ...(caPem === undefined ? {} : { caPem }),
    });
    const ca = caPem === undefined ? {} : { caPem };
    this.leaseClient = new ApiClient({ baseUrl, token, timeoutMs: LEASE_TIMEOUT_MS, ...ca });
    // A long-poll waits up to its waitMs before the controller answers.
    this.watchClient = new ApiClient({
      baseUrl,
      token,
      timeoutMs: LONG_POLL_WAIT_MS_MAX + REQUEST_TIMEOUT_MS,
      ...ca,
    });
  }
  desired(): Promise<DesiredState> {
    return this.client.request("GET", "/api/v1/agent/desired", DesiredStateSchema);
  }
  async desiredAfter(after: string, waitMs: number): Promise<DesiredState | null> {
    const query = `after=${encodeURIComponent(after)}&waitMs=${waitMs}`;
    const state = await this.watchClient.request(
      "GET",
      `/api/v1/agent/desired?${query}`,
      DesiredStateOrNoChange,
    );
    return state ?? null;
  }
  renewLease(): Promise<LeaseGrant> {
    return this.leaseClient.request("POST", "/api/v1/agent/lease", LeaseGrantSchema);
  }
  report(status: AgentStatus): Promise<void> {
    return this.client.request("PUT", "/api/v1/agent/status", NoContent, status);
  }
  openConsole(sessionId: string): Promise<Duplex> {
    return this.client.upgrade(
      `/api/v1/agent/console/${encodeURIComponent(sessionId)}`,
      "etherplane-console",
    );
  }
  openMigration(sessionId: string): Promise<Duplex> {
    return this.client.upgrade(
      `/api/v1/agent/migration/${encodeURIComponent(sessionId)}`,
      MIGRATION_UPGRADE,
    );
  }
}

/**
 * An `Upgrade: etherplane-console` (or `protocol`) request on `url`; resolves with the raw
 * connection after 101. A shorthand for ApiClient.upgrade, whose errors it keeps.
 */
export function upgradeToConsole(
  url: URL,
  token: string,
  caPem?: string,
  protocol = "etherplane-console",
): Promise<Duplex> {
  const client = new ApiClient({
    baseUrl: url.origin,
    token,
    timeoutMs: REQUEST_TIMEOUT_MS,
    ...(caPem === undefined ? {} : { caPem }),
  });
  return client.upgrade(url.pathname + url.search, protocol);
}
