/**
 * Schemas of domains, networks and the compute side of the agent protocol (zod, with OpenAPI
 * names). schemas.ts holds the rest and includes these in the agent's messages.
 */
import { z } from "@hono/zod-openapi";
import { LIFECYCLE_ACTIONS } from "../domain/xl-cfg/fields.js";

const id = z.string().min(1).max(128);
const mac = z
  .string()
  .regex(/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/, "a MAC address like 00:16:3e:00:00:13");
const ifname = z.string().min(1).max(15);
const action = z.enum(LIFECYCLE_ACTIONS);
const runState = z.enum(["running", "paused", "stopped"]);

export const HypervisorInventorySchema = z
  .object({
    kind: z.enum(["xen", "qemu", "fake"]),
    version: z.string().max(64),
    detail: z.string().max(256),
    cpus: z.number().int().nonnegative(),
    totalMemoryMiB: z.number().int().nonnegative(),
    freeMemoryMiB: z.number().int(),
    otherGuests: z
      .array(
        z
          .object({
            name: z.string().max(128),
            domid: z.number().int(),
            memoryMiB: z.number().int(),
            vcpus: z.number().int(),
          })
          .strict(),
      )
      .max(1024),
  })
  .strict()
  .openapi("HypervisorInventory");

export const DomainObservedSchema = z
  .object({
    state: z.enum(["running", "paused", "stopped", "shutdown", "crashed"]),
    domid: z.number().int().nullable(),
    flags: z.string().length(6),
    memoryMiB: z.number().int(),
    vcpus: z.number().int(),
    cpuTimeS: z.number(),
    appliedGeneration: z.number().int(),
    appliedRebootSeq: z.number().int(),
    lastExit: z
      .object({
        reason: z.enum(["poweroff", "reboot", "crash"]),
        action,
        atMs: z.number().int(),
      })
      .strict()
      .nullable(),
    restarts: z.number().int().nonnegative(),
    error: z.string().max(2048).nullable(),
    atMs: z.number().int(),
  })
  .strict()
  .openapi("DomainObserved");

export const DomainSchema = z
  .object({
    id,
    name: z.string(),
    uuid: z.string(),
    config: z.string().openapi({ description: "the domain file, xl.cfg syntax" }),
    memoryMiB: z.number().int(),
    vcpus: z.number().int(),
    disks: z.array(
      z.object({
        vdev: z.string(),
        target: z.string(),
        readOnly: z.boolean(),
        volumeId: id.nullable(),
      }),
    ),
    vifs: z.array(z.object({ mac: z.string(), bridge: z.string() })),
    onPoweroff: action,
    onReboot: action,
    onCrash: action,
    allowedUnsafe: z.array(z.string()).openapi({
      description: "keys the domain policy refuses that an admin allowed in this file",
    }),
    antiAffinity: z.string().nullable().openapi({
      description: "anti-affinity group: kept off hosts that run another of the group",
    }),
    pinHosts: z.array(id).openapi({ description: "host ids it may run on (empty: any)" }),
    hostId: id.nullable(),
    placed: z
      .object({
        name: z.string(),
        uuid: z.string(),
        config: z.string(),
        memoryMiB: z.number().int(),
        vcpus: z.number().int(),
        boot: z.object({ kind: z.enum(["kernel", "firmware"]) }).passthrough(),
        disks: z.array(
          z.object({
            vdev: z.string(),
            readOnly: z.boolean(),
            volumeId: id,
            shelf: z.number().int(),
            slot: z.number().int(),
          }),
        ),
        vifs: z.array(z.object({ mac: z.string(), bridge: z.string() })),
        onPoweroff: action,
        onReboot: action,
        onCrash: action,
        allowedUnsafe: z.array(z.string()).optional().openapi({
          description: "as allowed when it was placed; absent on one placed before the policy",
        }),
        placedMs: z.number().int(),
      })
      .nullable()
      .openapi({
        description:
          "what the last start checked and the host runs until the next start (edits wait for it)",
      }),
    desiredState: runState,
    stopMode: z.enum(["shutdown", "destroy"]),
    shutdownTimeoutS: z.number().int(),
    rebootSeq: z.number().int(),
    observed: DomainObservedSchema.nullable(),
    ha: z.boolean().nullable().optional(),
    haPriority: z.number().int().optional(),
    haHeld: z.string().optional().openapi({
      description: "why high availability's restart of this domain waits, while it does",
    }),
    generation: z.number().int(),
    createdMs: z.number().int(),
    updatedMs: z.number().int(),
  })
  .openapi("Domain");

export const NetworkSchema = z
  .object({
    id,
    name: z.string(),
    hostId: id,
    bridge: z.string(),
    uplink: z.string().nullable(),
    vlanId: z.number().int().nullable(),
    error: z.string().nullable(),
    createdMs: z.number().int(),
  })
  .openapi("Network");

export const ImportDomainRequest = z
  .object({
    config: z
      .string()
      .min(1)
      .max(256 * 1024),
    source: z
      .string()
      .max(255)
      .optional()
      .openapi({ description: "the file's name, for messages" }),
    allowUnsafe: z
      .array(z.string().min(1).max(64))
      .max(64)
      .optional()
      .openapi({
        description:
          "admin only: keys of the domain policy's table this file may use (audited); " +
          "every other refused key is still refused",
      }),
  })
  .strict()
  .openapi("ImportDomainRequest");

export const UpdateDomainRequest = ImportDomainRequest.extend({
  generation: z.number().int().optional().openapi({ description: "refuse if it changed since" }),
})
  .strict()
  .openapi("UpdateDomainRequest");

export const DomainImportResponse = z
  .object({
    domain: DomainSchema,
    changes: z.array(z.string()),
    warnings: z.array(z.string()),
    unsafeAllowed: z.array(
      z.object({ key: z.string(), line: z.number().int(), detail: z.string(), reason: z.string() }),
    ),
  })
  .openapi("DomainImport");

export const StartDomainRequest = z
  .object({ host: z.string().max(128).optional() })
  .strict()
  .openapi("StartDomainRequest");

export const MigrateDomainRequest = z
  .object({
    host: z
      .string()
      .max(128)
      .optional()
      .openapi({ description: "destination host (name or id); placement picks one when absent" }),
    live: z
      .boolean()
      .optional()
      .openapi({ description: "true (default): live; false: shutdown, then start there" }),
  })
  .strict()
  .openapi("MigrateDomainRequest");

export const ShutdownDomainRequest = z
  .object({ timeoutS: z.number().int().min(0).max(3600).optional() })
  .strict()
  .openapi("ShutdownDomainRequest");

export const CreateNetworkRequest = z
  .object({
    host: z.string().min(1).max(128),
    name: z.string().min(1).max(63),
    bridge: ifname.optional().openapi({ description: "default: the network's name" }),
    uplink: ifname.optional(),
    vlanId: z.number().int().min(1).max(4094).optional(),
  })
  .strict()
  .openapi("CreateNetworkRequest");

/** Only AoE volumes: a host path never reaches an agent (compute/desired-domain-check.ts). */
const desiredDisk = z
  .object({
    vdev: z.string(),
    readOnly: z.boolean(),
    kind: z.literal("aoe"),
    shelf: z.number().int(),
    slot: z.number().int(),
  })
  .strict();

export const DesiredDomainSchema = z.object({
  id,
  name: z.string(),
  uuid: z.string(),
  config: z.string(),
  memoryMiB: z.number().int(),
  vcpus: z.number().int(),
  boot: z.union([
    z
      .object({
        kind: z.literal("kernel"),
        kernel: z.string(),
        ramdisk: z.string().optional(),
        cmdline: z.string(),
      })
      .strict(),
    z.object({ kind: z.literal("firmware") }).strict(),
  ]),
  disks: z.array(desiredDisk),
  vifs: z.array(z.object({ mac, bridge: z.string() })),
  onPoweroff: action,
  onReboot: action,
  onCrash: action,
  allowedUnsafe: z.array(z.string().max(64)).max(64),
  desiredState: runState,
  stopMode: z.enum(["shutdown", "destroy"]),
  shutdownTimeoutS: z.number().int(),
  rebootSeq: z.number().int(),
  generation: z.number().int(),
  ha: z.boolean(),
});

export const DesiredNetworkSchema = z.object({
  id,
  name: z.string(),
  bridge: z.string(),
  uplink: z.string().nullable(),
  vlanId: z.number().int().nullable(),
});

export const ObservedDomainSchema = DomainObservedSchema.extend({ id }).strict();
export const ObservedNetworkSchema = z
  .object({ id, error: z.string().max(2048).nullable() })
  .strict();
