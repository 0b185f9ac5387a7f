/**
 * `etherplane network create|list|delete`: the bridges guests plug into, per host (optionally on
 * an uplink, optionally an 802.1q VLAN). The host's agent makes them and reports problems.
 */
import { parse, usageError } from "../args.js";
import { printJson } from "../output/json.js";
import { formatTable } from "../output/table.js";
import { openSession, sessionFlags } from "./session.js";
import { requestAllPages } from "../client/pages.js";
import { HostListReply, NetworkListReply, NetworkReply, NoContent } from "../../api/replies.js";

const usage = `etherplane network COMMAND ...
  create NAME --host H [--bridge BRIDGE] [--uplink IF] [--vlan ID]   (the bridge is named NAME unless given)
  list [--host H] | delete NAME [--host H]
  common: [--json] [--controller URL] [--token-file FILE|--token -]`;

export async function networkCommand(args: string[]): Promise<void> {
  const [command, ...rest] = args;
  const { values, positionals } = parse(
    rest,
    {
      ...sessionFlags,
      host: { type: "string" },
      bridge: { type: "string" },
      uplink: { type: "string" },
      vlan: { type: "string" },
    },
    usage,
  );
  if (!command || command.startsWith("-") || values.help)
    return void process.stdout.write(`usage: ${usage}\n`);
  const session = await openSession(values);
  const name = positionals[0];
  const hostQuery = values.host ? `?host=${encodeURIComponent(values.host)}` : "";
  switch (command) {
    case "create": {
      if (!name) throw usageError("network create: name the network", usage);
      if (!values.host) throw usageError("network create: say which host with --host", usage);
      const vlanId = values.vlan === undefined ? undefined : Number(values.vlan);
      if (vlanId !== undefined && !Number.isInteger(vlanId))
        throw usageError(`--vlan ${values.vlan}: give a VLAN id from 1 to 4094`, usage);
      const { network } = await session.client.request("POST", "/api/v1/networks", NetworkReply, {
        host: values.host,
        name,
        ...(values.bridge ? { bridge: values.bridge } : {}),
        ...(values.uplink ? { uplink: values.uplink } : {}),
        ...(vlanId === undefined ? {} : { vlanId }),
      });
      if (session.json) return printJson({ network });
      return void process.stdout.write(
        `created network ${network.name} (bridge ${network.bridge}) on ${values.host}\n`,
      );
    }
    case "list": {
      const [{ networks }, { hosts }] = await Promise.all([
        requestAllPages(
          session.client,
          `/api/v1/networks${hostQuery}`,
          "networks",
          NetworkListReply,
        ),
        requestAllPages(session.client, "/api/v1/hosts", "hosts", HostListReply),
      ]);
      if (session.json) return printJson({ networks });
      const hostNames = new Map(hosts.map((h) => [h.id, h.name]));
      return void process.stdout.write(
        `${formatTable(
          [
            { header: "NAME" },
            { header: "HOST" },
            { header: "BRIDGE" },
            { header: "UPLINK" },
            { header: "VLAN", align: "right" },
            { header: "STATE" },
          ],
          networks.map((n) => [
            n.name,
            hostNames.get(n.hostId) ?? n.hostId,
            n.bridge,
            n.uplink ?? "-",
            n.vlanId === null ? "-" : String(n.vlanId),
            n.error ?? "ok",
          ]),
        )}\n`,
      );
    }
    case "delete": {
      if (!name) throw usageError("network delete: name the network", usage);
      await session.client.request(
        "DELETE",
        `/api/v1/networks/${encodeURIComponent(name)}${hostQuery}`,
        NoContent,
      );
      return void process.stdout.write(`deleted network ${name}\n`);
    }
    default:
      throw usageError(`unknown network command "${command}"`, usage);
  }
}
