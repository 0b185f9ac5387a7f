/**
 * The API's request and response schemas (zod, with OpenAPI names): one source for validation,
 * for the OpenAPI document and for the types the routes return.
 */
import { z } from "@hono/zod-openapi";
import {
  DesiredDomainSchema,
  DesiredNetworkSchema,
  HypervisorInventorySchema,
  ObservedDomainSchema,
  ObservedNetworkSchema,
} from "./domain-schemas.js";

// No regex flags: the OpenAPI document carries the source alone (an `i` flag would be lost).
const mac = z
  .string()
  .regex(/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/, "a MAC address like 00:16:3e:00:00:13");
const id = z.string().min(1).max(128);

export const ErrorSchema = z
  .object({
    error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }),
  })
  .openapi("Error");

export const VolumeSchema = z
  .object({
    id,
    name: z.string(),
    kind: z.enum(["volume", "snapshot"]),
    poolId: id,
    hostId: id,
    sizeBytes: z.number().int(),
    allocatedBytes: z.number().int().nullable(),
    sourceId: id.nullable(),
    shelf: z.number().int(),
    slot: z.number().int(),
    exported: z.boolean(),
    allow: z.array(z.string()).describe("MACs an admin allowed; empty (and no grant) = nobody"),
    allowEveryone: z.boolean(),
    grants: z.array(
      z.object({
        domainId: id,
        hostId: id,
        macs: z.array(z.string()),
        generation: z.number().int(),
      }),
    ),
    appliedGeneration: z.number().int(),
    state: z.enum(["creating", "ready", "resizing", "deleting", "failed"]),
    error: z.string().nullable(),
    generation: z.number().int(),
    createdMs: z.number().int(),
    updatedMs: z.number().int(),
  })
  .openapi("Volume");

export const TaskSchema = z
  .object({
    id,
    kind: z.string(),
    state: z.enum(["queued", "running", "succeeded", "failed"]),
    progress: z.number(),
    message: z.string(),
    subjectId: id.nullable(),
    result: z.unknown(),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    createdBy: z.string(),
    createdMs: z.number().int(),
    updatedMs: z.number().int(),
  })
  .openapi("Task");

const InterfaceSchema = z
  .object({
    ifname: z.string().max(15),
    mac: z.string(),
    mtu: z.number().int(),
    up: z.boolean(),
  })
  .strict();
export const InventorySchema = z
  .object({
    hostname: z.string().max(255),
    agentVersion: z.string().max(64),
    interfaces: z.array(InterfaceSchema).max(256),
    sanInterfaces: z.array(z.string().max(15)).max(8).optional(),
    hypervisor: HypervisorInventorySchema.optional(),
  })
  .strict()
  .openapi("HostInventory");

export const HostSchema = z
  .object({
    id,
    name: z.string(),
    roles: z.array(z.enum(["storage", "compute"])),
    exportInterfaces: z.array(z.string()),
    inventory: InventorySchema.nullable(),
    lastSeenMs: z.number().int().nullable(),
    maintenance: z
      .object({
        sinceMs: z.number().int(),
        by: z.string(),
        taskId: z.string().nullable(),
        stoppedDomainIds: z.array(id),
      })
      .nullable()
      .openapi({ description: "set while the host is in maintenance: nothing new goes there" }),
    createdMs: z.number().int(),
    /** The controller's view (host-state.ts); absent from stored records. */
    state: z.enum(["up", "suspect", "dead", "fenced", "maintenance"]).optional().openapi({
      description:
        "the lease, HA and maintenance combined: fenced > dead > suspect > maintenance > up (the first that holds)",
    }),
  })
  .openapi("Host");

export const LeaseGrantSchema = z
  .object({
    renewMs: z.number().int(),
    deadMs: z.number().int(),
    selfFenceMs: z.number().int(),
    state: z.string(),
  })
  .openapi("LeaseGrant");

export const PoolSchema = z
  .object({
    id,
    name: z.string(),
    hostId: id,
    kind: z.enum(["directory", "block"]),
    path: z.string(),
    devices: z.array(z.string()),
    capacityBytes: z.number().int().nullable(),
    freeBytes: z.number().int().nullable(),
    createdMs: z.number().int(),
  })
  .openapi("Pool");

export const TokenSchema = z
  .object({
    id,
    name: z.string(),
    role: z.enum(["admin", "operator", "viewer", "agent", "join"]),
    hostId: id.nullable(),
    createdMs: z.number().int(),
    expiresMs: z.number().int().nullable(),
    revoked: z.boolean(),
  })
  .openapi("Token");

export const AuditSchema = z
  .object({
    id: z.number().int(),
    timeMs: z.number().int(),
    actor: z.string(),
    role: z.string(),
    method: z.string(),
    path: z.string(),
    status: z.number().int(),
    result: z.enum(["ok", "error"]),
    subject: z.string().nullable(),
    detail: z.string().nullable(),
  })
  .openapi("AuditEntry");

const name = z.string().min(1).max(63);
const sizeBytes = z.number().int().positive();
const address = z.string().max(16).describe("AoE address shelf.slot, e.g. 1.0");

export const CreateVolumeRequest = z
  .object({
    name,
    sizeBytes,
    pool: z.string().max(128).optional(),
    address: address.optional(),
    exported: z.boolean().optional(),
    allow: z.array(mac).max(128).optional(),
  })
  .strict()
  .openapi("CreateVolumeRequest");

export const ResizeVolumeRequest = z.object({ sizeBytes }).strict().openapi("ResizeVolumeRequest");
export const CopyVolumeRequest = z
  .object({ name, address: address.optional(), exported: z.boolean().optional() })
  .strict()
  .openapi("CopyVolumeRequest");
export const AccessRequest = z
  .object({
    macs: z.array(mac).max(128).optional(),
    hosts: z.array(z.string().max(255)).max(64).optional(),
    everyone: z
      .boolean()
      .optional()
      .describe("allow: open the volume to every host on the SAN; deny: close it again (admin)"),
  })
  .strict()
  .openapi("AccessRequest");

export const CreatePoolRequest = z
  .object({
    host: z.string().max(255),
    name,
    kind: z.enum(["directory", "block"]),
    path: z.string().max(4096).optional(),
    devices: z.array(z.string().max(4096)).max(256).optional(),
  })
  .strict()
  .openapi("CreatePoolRequest");

export const CreateTokenRequest = z
  .object({
    name: z.string().min(1).max(64),
    role: z.enum(["admin", "operator", "viewer", "join"]),
    expiresInSeconds: z
      .number()
      .int()
      .positive()
      .max(10 * 365 * 86400)
      .optional()
      .openapi({ description: "join tokens: default 3600, at most 7 days" }),
    replace: z
      .boolean()
      .optional()
      .openapi({ description: "join tokens only: NAME is an existing host to replace" }),
  })
  .strict()
  .openapi("CreateTokenRequest");

export const JoinRequestSchema = z
  .object({
    name: z.string().min(1).max(255),
    roles: z.array(z.enum(["storage", "compute"])).max(2),
    exportInterfaces: z.array(z.string().max(15)).max(8),
  })
  .strict()
  .openapi("JoinRequest");

const count = z.number().nonnegative().max(Number.MAX_SAFE_INTEGER);
export const ObservedMigrationSchema = z
  .object({
    sessionId: id,
    role: z.enum(["send", "receive"]),
    state: z.enum(["preparing", "ready", "sending", "sent", "running", "failed", "done"]),
    progress: z
      .object({
        transferredBytes: count,
        remainingBytes: count,
        totalBytes: count,
        dirtyPagesRate: count,
        expectedDowntimeMs: count.nullable(),
      })
      .strict()
      .nullable(),
    report: z
      .object({ transferredBytes: count, totalTimeMs: count, downtimeMs: count.nullable() })
      .strict()
      .nullable(),
    error: z.string().max(1024).nullable(),
  })
  .strict()
  .openapi("ObservedMigration");

export const AgentStatusSchema = z
  .object({
    inventory: InventorySchema,
    pools: z
      .array(
        z
          .object({
            id,
            capacityBytes: z.number().int(),
            freeBytes: z.number().int(),
            error: z.string().nullable(),
          })
          .strict(),
      )
      .max(256),
    volumes: z
      .array(
        z
          .object({
            id,
            present: z.boolean(),
            sizeBytes: z.number().int().nullable(),
            allocatedBytes: z.number().int().nullable(),
            appliedGeneration: z.number().int(),
            error: z.string().max(1024).nullable(),
            progress: z
              .object({ doneBytes: z.number().int(), totalBytes: z.number().int() })
              .strict()
              .nullable(),
            io: z
              .object({
                readBytes: z.number().int().nonnegative(),
                writtenBytes: z.number().int().nonnegative(),
              })
              .strict()
              .optional(),
          })
          .strict(),
      )
      .max(100_000),
    foreignTargets: z
      .array(
        z.object({ shelf: z.number().int(), slot: z.number().int(), mac: z.string() }).strict(),
      )
      .max(10_000),
    domains: z.array(ObservedDomainSchema).max(10_000).optional(),
    networks: z.array(ObservedNetworkSchema).max(1024).optional(),
    migrations: z.array(ObservedMigrationSchema).max(64).optional(),
    guests: z
      .array(
        z
          .object({
            name: z.string().max(128),
            uuid: z.string().max(64),
            state: z.enum(["running", "paused", "stopped"]),
          })
          .strict(),
      )
      .max(1024)
      .optional(),
  })
  .strict()
  .openapi("AgentStatus");

export const DesiredStateSchema = z
  .object({
    hostId: id,
    revision: z.string(),
    roles: z.array(z.enum(["storage", "compute"])),
    exportInterfaces: z.array(z.string()),
    pools: z.array(
      z.object({
        id,
        name: z.string(),
        kind: z.enum(["directory", "block"]),
        path: z.string(),
        devices: z.array(z.string()),
      }),
    ),
    volumes: z.array(
      VolumeSchema.pick({
        id: true,
        name: true,
        kind: true,
        poolId: true,
        sizeBytes: true,
        sourceId: true,
        shelf: true,
        slot: true,
        exported: true,
        allow: true,
        allowEveryone: true,
        state: true,
        generation: true,
      }),
    ),
    networks: z.array(DesiredNetworkSchema),
    domains: z.array(DesiredDomainSchema),
    evict: z.array(z.object({ id, name: z.string(), uuid: z.string() })),
    consoles: z.array(z.object({ sessionId: id, domainName: z.string() })),
    migrations: z
      .array(
        z.object({
          sessionId: id,
          role: z.enum(["send", "receive"]),
          phase: z.enum(["run", "abort", "finish"]),
          domain: DesiredDomainSchema,
        }),
      )
      .optional(),
  })
  .openapi("DesiredState");

export const VolumeTaskResponse = z
  .object({ volume: VolumeSchema, task: TaskSchema, warnings: z.array(z.string()) })
  .openapi("VolumeTask");
