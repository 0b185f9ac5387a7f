/** `etherplane task|host|pool|token ...`: the other records, through the API. */
import { parse, usageError } from "../args.js";
import { printJson } from "../output/json.js";
import { formatBytes, formatTable } from "../output/table.js";
import { openSession, sessionFlags } from "./session.js";
import { requestAllPages } from "../client/pages.js";
import {
  HostListReply,
  NoContent,
  PoolListReply,
  PoolReply,
  TaskListReply,
  TaskReply,
  TokenCreatedReply,
  TokenListReply,
} from "../../api/replies.js";

/** Kept here so that the other commands do not load the store (token-local.ts loads it). */
export const localTokenUsage =
  "etherplane token create NAME --role admin|operator|viewer --local [--data-dir DIR] [--out FILE]\n" +
  "  (as root on the controller's host: writes the token into the controller's store directly)";

const time = (ms: number | null) =>
  ms === null ? "-" : new Date(ms).toISOString().replace("T", " ").slice(0, 19);

export async function taskCommand(args: string[]): Promise<void> {
  const usage = "etherplane task list [--state S] | task show ID   [--json]";
  const [command, ...rest] = args;
  const { values, positionals } = parse(
    rest,
    { ...sessionFlags, state: { type: "string" } },
    usage,
  );
  if (!command || command.startsWith("-") || values.help)
    return void process.stdout.write(`usage: ${usage}\n`);
  const session = await openSession(values);
  if (command === "list") {
    const { tasks } = await requestAllPages(
      session.client,
      `/api/v1/tasks${values.state ? `?state=${encodeURIComponent(values.state)}` : ""}`,
      "tasks",
      TaskListReply,
    );
    if (session.json) return printJson({ tasks });
    const rows = tasks.map((t) => [
      t.id,
      t.kind,
      t.state,
      `${Math.round(t.progress * 100)}%`,
      time(t.createdMs),
      t.createdBy,
      t.error?.message ?? t.message,
    ]);
    return void process.stdout.write(
      `${formatTable([{ header: "ID" }, { header: "KIND" }, { header: "STATE" }, { header: "DONE", align: "right" }, { header: "STARTED" }, { header: "BY" }, { header: "MESSAGE" }], rows)}\n`,
    );
  }
  if (command === "show") {
    const id = positionals[0];
    if (!id) throw usageError("task show: give the task id", usage);
    const { task } = await session.client.request(
      "GET",
      `/api/v1/tasks/${encodeURIComponent(id)}`,
      TaskReply,
    );
    if (session.json) return printJson({ task });
    return void process.stdout.write(
      `${task.id}  ${task.kind}  ${task.state}  ${Math.round(task.progress * 100)}%  ${task.error ? `${task.error.code}: ${task.error.message}` : task.message}\n`,
    );
  }
  throw usageError(`unknown task command "${command}"`, usage);
}

export async function hostCommand(args: string[]): Promise<void> {
  const usage =
    "etherplane host list [--json]\n" +
    "       etherplane host maintenance HOST [--allow-restart] [--no-wait]   move its domains away, place nothing new there\n" +
    "       etherplane host activate HOST [--no-wait]                        end the maintenance";
  const [command, ...rest] = args;
  const { values, positionals } = parse(
    rest,
    { ...sessionFlags, "allow-restart": { type: "boolean" } },
    usage,
  );
  if (command === "maintenance" || command === "activate") {
    const name = positionals[0];
    if (!name || positionals.length > 1) throw usageError(`host ${command}: name one host`, usage);
    return (await import("./host-maintenance.js")).hostMaintenance(
      await openSession(values),
      command,
      name,
      values["allow-restart"] === true,
    );
  }
  if (command !== "list" || values.help) return void process.stdout.write(`usage: ${usage}\n`);
  const session = await openSession(values);
  const { hosts } = await requestAllPages(session.client, "/api/v1/hosts", "hosts", HostListReply);
  if (session.json) return printJson({ hosts });
  const rows = hosts.map((h) => {
    const hv = h.inventory?.hypervisor;
    return [
      h.name,
      h.state ?? "-",
      h.roles.join(","),
      hv ? `${hv.kind} ${hv.version} (${hv.detail})` : "-",
      hv ? `${hv.cpus}` : "-",
      hv ? `${hv.freeMemoryMiB}/${hv.totalMemoryMiB}` : "-",
      h.exportInterfaces.join(",") || "-",
      h.inventory?.interfaces.map((i) => `${i.ifname}=${i.mac}`).join(" ") ?? "-",
      time(h.lastSeenMs),
    ];
  });
  process.stdout.write(
    `${formatTable(
      [
        { header: "NAME" },
        { header: "STATE" },
        { header: "ROLES" },
        { header: "HYPERVISOR" },
        { header: "CPUS", align: "right" },
        { header: "FREE/MEM(MiB)", align: "right" },
        { header: "AOE-IFACES" },
        { header: "INTERFACES" },
        { header: "LAST-SEEN" },
      ],
      rows,
    )}\n`,
  );
}

export async function poolCommand(args: string[]): Promise<void> {
  const usage =
    "etherplane pool list | pool create NAME --host HOST (--path DIR | --device DEV ...)   [--json]";
  const [command, ...rest] = args;
  const { values, positionals } = parse(
    rest,
    {
      ...sessionFlags,
      host: { type: "string" },
      path: { type: "string" },
      device: { type: "string", multiple: true },
    },
    usage,
  );
  if (!command || command.startsWith("-") || values.help)
    return void process.stdout.write(`usage: ${usage}\n`);
  const session = await openSession(values);
  if (command === "list") {
    const [{ pools }, { hosts }] = await Promise.all([
      requestAllPages(session.client, "/api/v1/pools", "pools", PoolListReply),
      requestAllPages(session.client, "/api/v1/hosts", "hosts", HostListReply),
    ]);
    if (session.json) return printJson({ pools });
    const hostName = new Map(hosts.map((h) => [h.id, h.name]));
    const rows = pools.map((p) => [
      p.name,
      hostName.get(p.hostId) ?? p.hostId,
      p.kind,
      p.kind === "directory" ? p.path : p.devices.join(","),
      p.capacityBytes === null ? "-" : formatBytes(p.capacityBytes),
      p.freeBytes === null ? "-" : formatBytes(p.freeBytes),
    ]);
    return void process.stdout.write(
      `${formatTable([{ header: "NAME" }, { header: "HOST" }, { header: "KIND" }, { header: "WHERE" }, { header: "SIZE", align: "right" }, { header: "FREE", align: "right" }], rows)}\n`,
    );
  }
  if (command === "create") {
    const name = positionals[0];
    if (!name || !values.host) throw usageError("pool create: give NAME and --host", usage);
    const body = values.device
      ? { host: values.host, name, kind: "block", devices: values.device }
      : { host: values.host, name, kind: "directory", path: values.path };
    const { pool } = await session.client.request("POST", "/api/v1/pools", PoolReply, body);
    return void process.stdout.write(
      session.json
        ? `${JSON.stringify({ pool }, null, 2)}\n`
        : `created pool ${pool.name} (${pool.id})\n`,
    );
  }
  throw usageError(`unknown pool command "${command}"`, usage);
}

export async function tokenCommand(args: string[]): Promise<void> {
  const usage =
    "etherplane token create NAME --role admin|operator|viewer|join [--ttl 30m] [--replace] | token list | token revoke ID   [--json]\n" +
    "  a join token is for the host NAME, used once, and lives --ttl (default 1h); --replace lets an\n" +
    "  existing host NAME join again (a reinstalled machine) and revokes its old agent tokens\n" +
    localTokenUsage;
  const [command, ...rest] = args;
  const { values, positionals } = parse(
    rest,
    {
      ...sessionFlags,
      role: { type: "string" },
      ttl: { type: "string" },
      replace: { type: "boolean" },
      local: { type: "boolean" },
      "data-dir": { type: "string" },
      out: { type: "string" },
    },
    usage,
  );
  if (!command || command.startsWith("-") || values.help)
    return void process.stdout.write(`usage: ${usage}\n`);
  if (command === "create" && values.local)
    return (await import("./token-local.js")).localTokenCommand(
      positionals[0],
      values,
      values.json === true,
      localTokenUsage,
    );
  if (values.local || values["data-dir"] || values.out)
    throw usageError("--local, --data-dir and --out go with token create --local", usage);
  const session = await openSession(values);
  if (command === "create") {
    const name = positionals[0];
    if (!name || !values.role) throw usageError("token create: give NAME and --role", usage);
    const reply = await session.client.request("POST", "/api/v1/tokens", TokenCreatedReply, {
      name,
      role: values.role,
      ...(values.ttl === undefined ? {} : { expiresInSeconds: parseTtlSeconds(values.ttl, usage) }),
      ...(values.replace ? { replace: true } : {}),
    });
    if (session.json) return printJson(reply);
    const expires =
      reply.token.expiresMs === null ? "" : `, expires ${time(reply.token.expiresMs)}`;
    const join =
      reply.token.role === "join"
        ? `\non host ${reply.token.name}, used once: etherplane agent --join ${session.client.baseUrl} --name ${reply.token.name} --token TOKEN`
        : "";
    return void process.stdout.write(
      `${reply.secret}\n(the ${reply.token.role} token "${reply.token.name}"; shown this once${expires})${join}\n`,
    );
  }
  if (command === "list") {
    const { tokens } = await requestAllPages(
      session.client,
      "/api/v1/tokens",
      "tokens",
      TokenListReply,
    );
    if (session.json) return printJson({ tokens });
    const rows = tokens.map((t) => [
      t.id,
      t.name,
      t.role,
      time(t.createdMs),
      t.revoked
        ? t.role === "join"
          ? "used/revoked"
          : "revoked"
        : t.expiresMs !== null && t.expiresMs < Date.now()
          ? "expired"
          : "active",
    ]);
    return void process.stdout.write(
      `${formatTable([{ header: "ID" }, { header: "NAME" }, { header: "ROLE" }, { header: "CREATED" }, { header: "STATE" }], rows)}\n`,
    );
  }
  if (command === "revoke") {
    const id = positionals[0];
    if (!id) throw usageError("token revoke: give the token id", usage);
    await session.client.request("DELETE", `/api/v1/tokens/${encodeURIComponent(id)}`, NoContent);
    return void process.stdout.write(`revoked ${id}\n`);
  }
  throw usageError(`unknown token command "${command}"`, usage);
}

const TTL_UNITS_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `--ttl 30m`: a number and a unit (s, m, h, d). */
export function parseTtlSeconds(text: string, usage: string): number {
  const match = /^(\d{1,7})([smhd])$/.exec(text);
  const seconds = match ? Number(match[1]) * (TTL_UNITS_S[match[2] as string] ?? 0) : 0;
  if (seconds <= 0)
    throw usageError(`--ttl ${text}: write a number and a unit, e.g. 90s, 30m, 12h, 7d`, usage);
  return seconds;
}
