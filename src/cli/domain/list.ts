/**
 * `etherplane list [NAME...] [--long] [--json]`: the cluster's domains in `xl list`'s layout
 * (output/xl-list.ts); --long adds where each runs, its disks, networks and policies.
 */
import type { VolumeRecord } from "../../cluster/model.js";
import { EtherplaneError } from "../../foundation/errors.js";
import { parse } from "../args.js";
import { openSession, sessionFlags } from "../cluster/session.js";
import { printJson } from "../output/json.js";
import { formatXlList, type XlListRow } from "../output/xl-list.js";
import { requestAllPages } from "../client/pages.js";
import type { ApiClient } from "../client/api-client.js";
import {
  formatAvailability,
  type DomainAvailability,
} from "../../cluster/controller/domain-availability.js";
import {
  DomainListReply,
  DomainWithAvailabilityReply,
  HostListReply,
  VolumeListReply,
  type DomainView,
} from "../../api/replies.js";

const usage =
  "etherplane list [NAME...] [-l|--long] [--json] [--controller URL] [--token-file FILE|--token -]";

const AVAILABILITY_REQUESTS_MAX = 8;

export function xlListRow(domain: DomainView): XlListRow {
  const seen = domain.observed;
  const running = seen !== null && seen.state !== "stopped";
  return {
    name: domain.name,
    domid: running ? seen.domid : null,
    memoryMiB: running ? seen.memoryMiB : domain.memoryMiB,
    vcpus: running ? seen.vcpus : domain.vcpus,
    flags: running ? seen.flags : "------",
    cpuTimeS: running ? seen.cpuTimeS : 0,
  };
}

/** Availability lines of `list --long` (GET /api/v1/domains/{ref}'s `availability`). */
export function availabilityLines(availability: DomainAvailability): Array<[string, string]> {
  return [
    ["availability 24h", formatAvailability(availability.last24h)],
    [
      "availability",
      `${formatAvailability(availability.sinceCreated)} since ${new Date(availability.sinceCreated.fromMs).toISOString()}`,
    ],
  ];
}

/** Each domain's availability, a few requests at a time. */
async function availabilities(
  client: ApiClient,
  domains: readonly DomainView[],
): Promise<Map<string, DomainAvailability>> {
  const found = new Map<string, DomainAvailability>();
  for (let i = 0; i < domains.length; i += AVAILABILITY_REQUESTS_MAX) {
    await Promise.all(
      domains.slice(i, i + AVAILABILITY_REQUESTS_MAX).map(async (d) => {
        const view = await client.request(
          "GET",
          `/api/v1/domains/${encodeURIComponent(d.id)}`,
          DomainWithAvailabilityReply,
        );
        found.set(d.id, view.availability);
      }),
    );
  }
  return found;
}

function longBlock(
  domain: DomainView,
  hosts: Map<string, string>,
  volumes: Map<string, VolumeRecord>,
  extra: Array<[string, string]> = [],
): string {
  const seen = domain.observed;
  const disk = (d: DomainView["disks"][number]) => {
    const volume = d.volumeId ? volumes.get(d.volumeId) : undefined;
    const where = volume
      ? `volume ${volume.name} (e${volume.shelf}.${volume.slot})`
      : "not a volume";
    return `${d.vdev} ${d.target} ${d.readOnly ? "ro" : "rw"}: ${where}`;
  };
  const lines: Array<[string, string]> = [
    ["name", domain.name],
    ["uuid", domain.uuid],
    ["host", domain.hostId ? (hosts.get(domain.hostId) ?? domain.hostId) : "-"],
    ["state", `${seen?.state ?? "stopped"} (wanted: ${domain.desiredState})`],
    ["id", seen?.domid === null || seen?.domid === undefined ? "-" : String(seen.domid)],
    ["memory", `${domain.memoryMiB} MiB`],
    ["vcpus", String(domain.vcpus)],
    ["on_poweroff", domain.onPoweroff],
    ["on_reboot", domain.onReboot],
    ["on_crash", domain.onCrash],
    ...domain.disks.map((d, i): [string, string] => [`disk ${i}`, disk(d)]),
    ...domain.vifs.map((v, i): [string, string] => [`vif ${i}`, `mac=${v.mac} bridge=${v.bridge}`]),
    [
      "last exit",
      seen?.lastExit
        ? `${seen.lastExit.reason} -> ${seen.lastExit.action} at ${new Date(seen.lastExit.atMs).toISOString()}`
        : "-",
    ],
    ["restarts", String(seen?.restarts ?? 0)],
    ["error", seen?.error ?? "-"],
    // Only while high availability holds its restart (its host died): why.
    ...(domain.haHeld ? [["ha held", domain.haHeld] as [string, string]] : []),
    ...extra,
  ];
  return `(domain\n${lines.map(([k, v]) => `    (${k} ${v})`).join("\n")}\n)`;
}

export async function listCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(
    args,
    { ...sessionFlags, long: { type: "boolean", short: "l" } },
    usage,
  );
  if (values.help) return void process.stdout.write(`usage: ${usage}\n`);
  const session = await openSession(values);
  let { domains } = await requestAllPages(
    session.client,
    "/api/v1/domains",
    "domains",
    DomainListReply,
  );
  if (positionals.length > 0) {
    const wanted = new Set(positionals);
    const missing = positionals.filter((n) => !domains.some((d) => d.name === n || d.id === n));
    if (missing.length > 0)
      throw new EtherplaneError(
        "NOT_FOUND",
        `no domain ${missing.map((m) => `"${m}"`).join(", ")}`,
      );
    domains = domains.filter((d) => wanted.has(d.name) || wanted.has(d.id));
  }
  if (session.json) return printJson({ domains });
  if (!values.long) return void process.stdout.write(`${formatXlList(domains.map(xlListRow))}\n`);
  const [{ hosts }, { volumes }] = await Promise.all([
    requestAllPages(session.client, "/api/v1/hosts", "hosts", HostListReply),
    requestAllPages(session.client, "/api/v1/volumes", "volumes", VolumeListReply),
  ]);
  const hostNames = new Map(hosts.map((h) => [h.id, h.name]));
  const volumeById = new Map(volumes.map((v) => [v.id, v]));
  const availability = await availabilities(session.client, domains);
  const extra = (d: DomainView) => {
    const a = availability.get(d.id);
    return a ? availabilityLines(a) : [];
  };
  process.stdout.write(
    `${domains.map((d) => longBlock(d, hostNames, volumeById, extra(d))).join("\n")}\n`,
  );
}
