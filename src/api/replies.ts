/**
 * What each route answers (its 2xx JSON body), one schema per reply shape. The routes declare
 * these in their OpenAPI responses, and the client (src/cli/client/api-client.ts) checks every
 * reply against the same object, so that the server and its callers cannot drift apart silently:
 * replies.test.ts checks that every route's reply schema comes from here and that the in-process
 * API's actual replies conform. Pure zod: the CLI and the agent import it without the server.
 */
import { z } from "@hono/zod-openapi";
import { DomainAvailabilitySchema } from "./availability-schema.js";
import { DomainImportResponse, DomainSchema, NetworkSchema } from "./domain-schemas.js";
import { NextCursor } from "./paging.js";
import {
  AuditSchema,
  DesiredStateSchema,
  HostSchema,
  LeaseGrantSchema,
  PoolSchema,
  TaskSchema,
  TokenSchema,
  VolumeSchema,
  VolumeTaskResponse,
} from "./schemas.js";

export { DesiredStateSchema, DomainImportResponse, LeaseGrantSchema, VolumeTaskResponse };

/** The API version the health route reports; a client quotes it when a reply does not fit. */
export const API_VERSION = "0.1.0";

/** A route that answers 204 (or a 2xx with no body): nothing to read. */
export const NoContent = z.undefined();

export const HealthReply = z.object({ ok: z.boolean(), version: z.string() });

// Volumes
export const VolumeListReply = z.object({ volumes: z.array(VolumeSchema), nextCursor: NextCursor });
export const VolumeReply = z.object({ volume: VolumeSchema });

// Tasks
export const TaskListReply = z.object({ tasks: z.array(TaskSchema), nextCursor: NextCursor });
export const TaskReply = z.object({ task: TaskSchema });

// Hosts
export const HostListReply = z.object({ hosts: z.array(HostSchema), nextCursor: NextCursor });
export const ForeignTargetListReply = z.object({
  targets: z.array(
    z.object({ hostId: z.string(), shelf: z.number().int(), slot: z.number().int() }),
  ),
  nextCursor: NextCursor,
});

// Pools
export const PoolListReply = z.object({ pools: z.array(PoolSchema), nextCursor: NextCursor });
export const PoolReply = z.object({ pool: PoolSchema });

// Tokens
export const TokenListReply = z.object({ tokens: z.array(TokenSchema), nextCursor: NextCursor });
export const TokenCreatedReply = z.object({ token: TokenSchema, secret: z.string() });
export const WhoAmIReply = z
  .object({
    name: z.string(),
    role: z.enum(["admin", "operator", "viewer", "agent", "join"]),
    tokenId: z.string(),
    expiresMs: z.number().int().nullable(),
  })
  .openapi("WhoAmI");

// Audit
export const AuditListReply = z.object({
  entries: z.array(AuditSchema),
  nextCursor: NextCursor,
  refusedUnauthenticated: z.number().int().openapi({
    description:
      "calls refused for want of a valid token since the controller started (summarised in the log, at most one row per interval)",
  }),
});

// Agents
export const AgentJoinReply = z.object({ hostId: z.string(), token: z.string() });
/** GET /api/v1/agent/desired: the state, or nothing (204) when a long poll saw no change. */
export const DesiredStateOrNoChange = z.union([DesiredStateSchema, NoContent]);

// Domains
export const DomainListReply = z.object({ domains: z.array(DomainSchema), nextCursor: NextCursor });
export const DomainReply = z.object({ domain: DomainSchema });
/** A domain as the API shows it (the record, with the HA hold); what the CLI prints. */
export type DomainView = z.output<typeof DomainSchema>;
export const DomainWithAvailabilityReply = z.object({
  domain: DomainSchema,
  availability: DomainAvailabilitySchema,
});
export const DomainTaskReply = z
  .object({ domain: DomainSchema, task: TaskSchema })
  .openapi("DomainTask");
export const ConsoleTicketReply = z.object({
  ticket: z.string(),
  expiresMs: z.number().int(),
  path: z.string(),
});

// Networks
export const NetworkListReply = z.object({
  networks: z.array(NetworkSchema),
  nextCursor: NextCursor,
});
export const NetworkReply = z.object({ network: NetworkSchema });

// Settings, placement, events, maintenance (routes/operations.ts)
const SettingSchema = z
  .object({
    key: z.string(),
    value: z.number(),
    default: z.number(),
    min: z.number(),
    max: z.number(),
    summary: z.string(),
  })
  .openapi("Setting");
export const SettingListReply = z.object({ settings: z.array(SettingSchema) });
export const SettingReply = z.object({ setting: SettingSchema });

const HostAssessmentSchema = z.object({
  hostId: z.string(),
  hostName: z.string(),
  fits: z.boolean(),
  reasons: z.array(z.string()),
  groupPeers: z.array(z.string()),
  memoryLeftMiB: z.number().int().nullable(),
  vcpusLeft: z.number().int().nullable(),
  score: z.number().nullable(),
  summary: z.string(),
});
const PlacementPlanSchema = z
  .object({
    domain: z.string(),
    problem: z.string().nullable(),
    hosts: z.array(HostAssessmentSchema),
    chosenHostId: z.string().nullable(),
    reason: z.string(),
  })
  .openapi("PlacementPlan");
export const PlacementReply = z.object({ plan: PlacementPlanSchema });

export const EventSchema = z
  .object({
    id: z.number().int(),
    timeMs: z.number().int(),
    kind: z.string(),
    subject: z.string(),
    message: z.string(),
    fields: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  })
  .openapi("Event");
export const EventListReply = z.object({ events: z.array(EventSchema), nextCursor: NextCursor });

const EvacuationStepSchema = z.object({
  domain: z.string(),
  action: z.enum(["move", "stop"]),
  to: z.string().optional(),
  live: z.boolean().optional(),
  why: z.string().optional(),
});
export const MaintenanceReply = z.object({
  host: HostSchema,
  task: TaskSchema,
  plan: z.array(EvacuationStepSchema),
});
export const HostTaskReply = z.object({ host: HostSchema, task: TaskSchema });

// Metrics (the web UI's charts)
const HostSampleSchema = z
  .object({
    atMs: z.number().int(),
    memoryUsedMiB: z.number().int().nullable(),
    memoryTotalMiB: z.number().int().nullable(),
    cpuLoad: z
      .number()
      .nullable()
      .openapi({ description: "vCPU-seconds the host's guests used per second since the last" }),
    poolUsedBytes: z.number().int().nullable(),
    poolCapacityBytes: z.number().int().nullable(),
    exports: z
      .array(
        z.object({ volumeId: z.string(), readBps: z.number(), writeBps: z.number() }).openapi({
          description: "an AoE export's bytes read and written per second since the last sample",
        }),
      )
      .max(32),
  })
  .openapi("HostSample");
export const HostMetricsReply = z.object({
  hosts: z.array(z.object({ hostId: z.string(), samples: z.array(HostSampleSchema) })),
});

/**
 * The event stream's (/api/v1/events, not an OpenAPI route) `hello` and `change` messages: the
 * topics whose lists changed (web/change-feed.ts); `change` also carries the feed's version.
 */
export const ChangeMessage = z.object({
  version: z.number().optional(),
  topics: z.array(z.string()),
});
