/**
 * `etherplane volume ...`: create (alias make), list, show, resize, snapshot, clone, delete,
 * export, unexport, allow, deny. Everything goes through the controller's API.
 */
import type { TaskRecord, VolumeRecord } from "../../cluster/model.js";
import { describeAccess } from "../../cluster/controller/volume-access.js";
import { parse, usageError } from "../args.js";
import { formatBytes, formatTable, parseBytes } from "../output/table.js";
import { printJson } from "../output/json.js";
import { finishTask, openSession, sessionFlags, type Session } from "./session.js";
import { requestAllPages } from "../client/pages.js";
import {
  HostListReply,
  PoolListReply,
  VolumeListReply,
  VolumeReply,
  VolumeTaskResponse,
} from "../../api/replies.js";

type VolumeTask = { volume: VolumeRecord; task: TaskRecord };
const enc = encodeURIComponent;

export function aoeName(v: Pick<VolumeRecord, "shelf" | "slot">): string {
  return `e${v.shelf}.${v.slot}`;
}

export function formatVolumes(
  volumes: VolumeRecord[],
  pools: Map<string, string>,
  hosts: Map<string, string>,
): string {
  return formatTable(
    [
      { header: "NAME" },
      { header: "SIZE", align: "right" },
      { header: "ALLOC", align: "right" },
      { header: "POOL" },
      { header: "HOST" },
      { header: "DEVICE" },
      { header: "STATE" },
      { header: "ACCESS" },
    ],
    volumes.map((v) => [
      v.kind === "snapshot" ? `${v.name} (snapshot)` : v.name,
      formatBytes(v.sizeBytes),
      v.allocatedBytes === null ? "-" : formatBytes(v.allocatedBytes),
      pools.get(v.poolId) ?? v.poolId,
      hosts.get(v.hostId) ?? v.hostId,
      aoeName(v),
      v.state,
      describeAccess(v),
    ]),
  );
}

const usage = `etherplane volume COMMAND ...
  create NAME --size SIZE [--pool P] [--address S.L] [--unexported] [--allow MAC ...]   (alias: make)
  list | show NAME | resize NAME --size SIZE | snapshot NAME SNAP | clone NAME NEW [--address S.L]
  delete NAME [--force] | export NAME | unexport NAME | allow NAME MAC|HOST ... | deny NAME MAC|HOST ...
  allow NAME --everyone | deny NAME --everyone   (admin: open a volume to every host on the SAN, or close it)
  common: [--json] [--no-wait] [--controller URL] [--token-file FILE|--token -]`;

const macPattern = /^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i;

async function list(session: Session): Promise<void> {
  const [{ volumes }, { pools }, { hosts }] = await Promise.all([
    requestAllPages(session.client, "/api/v1/volumes", "volumes", VolumeListReply),
    requestAllPages(session.client, "/api/v1/pools", "pools", PoolListReply),
    requestAllPages(session.client, "/api/v1/hosts", "hosts", HostListReply),
  ]);
  if (session.json) return printJson({ volumes });
  process.stdout.write(
    `${formatVolumes(volumes, new Map(pools.map((p) => [p.id, p.name])), new Map(hosts.map((h) => [h.id, h.name])))}\n`,
  );
}

export async function volumeCommand(args: string[]): Promise<void> {
  const [command, ...rest] = args;
  const { values, positionals } = parse(
    rest,
    {
      ...sessionFlags,
      size: { type: "string" },
      pool: { type: "string" },
      address: { type: "string" },
      unexported: { type: "boolean" },
      allow: { type: "string", multiple: true },
      force: { type: "boolean" },
      everyone: { type: "boolean" },
    },
    usage,
  );
  if (!command || command.startsWith("-") || values.help)
    return void process.stdout.write(`usage: ${usage}\n`);
  const session = await openSession(values);
  const name = positionals[0];
  const needName = (): string => {
    if (!name) throw usageError(`volume ${command}: name the volume`, usage);
    return name;
  };
  const size = (): number => {
    if (typeof values.size !== "string")
      throw usageError(`volume ${command}: give --size, e.g. --size 20G`, usage);
    return parseBytes(values.size);
  };
  const post = (path: string, body?: unknown) =>
    session.client.request("POST", path, VolumeTaskResponse, body);
  const report = (verb: string) => (reply: VolumeTask) =>
    finishTask(session, reply, () => `${verb} ${reply.volume.name} (${aoeName(reply.volume)})`);
  switch (command) {
    case "create":
    case "make": {
      const body = {
        name: needName(),
        sizeBytes: size(),
        ...(values.pool ? { pool: values.pool } : {}),
        ...(values.address ? { address: values.address } : {}),
        ...(values.unexported ? { exported: false } : {}),
        ...(values.allow ? { allow: values.allow } : {}),
      };
      return report("created")(await post("/api/v1/volumes", body));
    }
    case "list":
      return list(session);
    case "show": {
      const { volume } = await session.client.request(
        "GET",
        `/api/v1/volumes/${enc(needName())}`,
        VolumeReply,
      );
      if (session.json) return printJson({ volume });
      const lines = Object.entries({
        ...volume,
        device: aoeName(volume),
        size: formatBytes(volume.sizeBytes),
        grants: volume.grants.map((g) => `${g.hostId}=${g.macs.join("+")}`),
        access: describeAccess(volume),
      }).map(([k, v]) => `${k.padEnd(16)} ${Array.isArray(v) ? v.join(",") || "-" : String(v)}`);
      return void process.stdout.write(`${lines.join("\n")}\n`);
    }
    case "resize":
      return report("resized")(
        await post(`/api/v1/volumes/${enc(needName())}/resize`, { sizeBytes: size() }),
      );
    case "snapshot":
    case "clone": {
      const target = positionals[1];
      if (!target)
        throw usageError(
          `volume ${command} ${needName()} NEW-NAME: name the new ${command}`,
          usage,
        );
      return report(command === "snapshot" ? "snapshot" : "cloned as")(
        await post(`/api/v1/volumes/${enc(needName())}/${command}`, {
          name: target,
          ...(values.address ? { address: values.address } : {}),
        }),
      );
    }
    case "delete": {
      const reply = await session.client.request(
        "DELETE",
        `/api/v1/volumes/${enc(needName())}${values.force ? "?force=true" : ""}`,
        VolumeTaskResponse,
      );
      return finishTask(session, reply, () => `deleted ${reply.volume.name}`);
    }
    case "export":
    case "unexport":
      return report(`${command}ed`)(await post(`/api/v1/volumes/${enc(needName())}/${command}`));
    case "allow":
    case "deny": {
      const who = positionals.slice(1);
      if (who.length === 0 && !values.everyone)
        throw usageError(
          `volume ${command} ${needName()}: give MAC addresses or host names (or --everyone)`,
          usage,
        );
      const body = {
        macs: who.filter((w) => macPattern.test(w)).map((m) => m.replace(/-/g, ":").toLowerCase()),
        hosts: who.filter((w) => !macPattern.test(w)),
        ...(values.everyone ? { everyone: true } : {}),
      };
      return report(`${command === "allow" ? "allowed on" : "denied on"}`)(
        await post(`/api/v1/volumes/${enc(needName())}/${command}`, body),
      );
    }
    default:
      throw usageError(`unknown volume command "${command}"`, usage);
  }
}
