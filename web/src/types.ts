/**
 * The API's records as the UI reads them: the types of the controller's own reply schemas
 * (src/api/replies.ts), which api.ts checks every reply against, so the two cannot drift apart.
 */
import type { z } from "zod";
import type {
  AuditListReply,
  DomainListReply,
  HostListReply,
  HostMetricsReply,
  NetworkListReply,
  PoolListReply,
  TaskListReply,
  TokenListReply,
  VolumeListReply,
  WhoAmIReply,
} from "../../src/api/replies.js";

export type WhoAmI = z.output<typeof WhoAmIReply>;
export type Role = WhoAmI["role"];
export type Host = z.output<typeof HostListReply>["hosts"][number];
export type Pool = z.output<typeof PoolListReply>["pools"][number];
export type Volume = z.output<typeof VolumeListReply>["volumes"][number];
export type Domain = z.output<typeof DomainListReply>["domains"][number];
export type DomainState = NonNullable<Domain["observed"]>["state"];
export type Task = z.output<typeof TaskListReply>["tasks"][number];
export type Network = z.output<typeof NetworkListReply>["networks"][number];
export type Token = z.output<typeof TokenListReply>["tokens"][number];
export type AuditEntry = z.output<typeof AuditListReply>["entries"][number];
/** GET /api/v1/metrics/hosts: a host's recent samples from its agent's reports, oldest first. */
export type HostSeries = z.output<typeof HostMetricsReply>["hosts"][number];
export type HostSample = HostSeries["samples"][number];
