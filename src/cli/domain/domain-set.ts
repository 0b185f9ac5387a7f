/**
 * `etherplane domain set NAME --anti-affinity GROUP --pin HOST[,HOST] --ha on|off|auto
 * --ha-priority N`: a domain's etherplane settings (not xl.cfg keys: the file stays as written),
 * sent together in one `PATCH /api/v1/domains/{ref}/settings`. Placement settings are used from
 * the domain's next placement. Each flag is one entry of DOMAIN_SET_FLAGS: a new setting is one
 * more entry.
 */
import { parse, usageError, type Options } from "../args.js";
import { openSession, sessionFlags } from "../cluster/session.js";
import { printJson } from "../output/json.js";
import { DomainReply, type DomainView } from "../../api/replies.js";

interface SetFlag {
  option: Options[string];
  help: string;
  /** The request's fields for the flag's value; a usage error for a value it cannot be. */
  body(value: string): Record<string, unknown>;
}

const list = (text: string) =>
  text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");

export const DOMAIN_SET_FLAGS: Record<string, SetFlag> = {
  "anti-affinity": {
    option: { type: "string" },
    help: 'GROUP: kept off hosts that run another domain of GROUP while another fits ("" clears)',
    body: (value) => ({ antiAffinity: value === "" ? null : value }),
  },
  pin: {
    option: { type: "string" },
    help: 'HOST[,HOST]: run only on these hosts ("" clears)',
    body: (value) => ({ pin: list(value) }),
  },
  ha: {
    option: { type: "string" },
    help: "on|off|auto: restarted elsewhere when its host dies (auto: on when on_crash or\n    on_reboot is restart)",
    body: (value) => {
      if (value !== "on" && value !== "off" && value !== "auto")
        throw usageError(`--ha ${value}: give on, off or auto`, usage);
      return { ha: value };
    },
  },
  "ha-priority": {
    option: { type: "string" },
    help: "N: the highest priority restarts first (-1000 to 1000)",
    body: (value) => {
      if (!/^-?\d{1,4}$/.test(value))
        throw usageError(`--ha-priority ${value}: give a whole number, e.g. 10`, usage);
      return { haPriority: Number(value) };
    },
  },
};

const usage =
  "etherplane domain set NAME [--FLAG VALUE]...   (placement: used from the domain's next placement)\n" +
  Object.entries(DOMAIN_SET_FLAGS)
    .map(([flag, f]) => `  --${flag} ${f.help}`)
    .join("\n");

export async function domainSetCommand(args: string[]): Promise<void> {
  const own = Object.fromEntries(Object.entries(DOMAIN_SET_FLAGS).map(([k, f]) => [k, f.option]));
  const { values, positionals } = parse(args, { ...sessionFlags, ...own }, usage);
  if (values.help) return void process.stdout.write(`usage: ${usage}\n`);
  const name = positionals[0];
  if (!name || positionals.length > 1) throw usageError("domain set: name one domain", usage);
  const body: Record<string, unknown> = {};
  const given = values as Record<string, unknown>;
  for (const [flag, f] of Object.entries(DOMAIN_SET_FLAGS)) {
    const value = given[flag];
    if (typeof value === "string") Object.assign(body, f.body(value));
  }
  if (Object.keys(body).length === 0)
    throw usageError("domain set: give at least one setting", usage);
  const session = await openSession(values);
  const { domain } = await session.client.request(
    "PATCH",
    `/api/v1/domains/${encodeURIComponent(name)}/settings`,
    DomainReply,
    body,
  );
  if (session.json) return printJson({ domain });
  process.stdout.write(`${describeSettings(domain)}\n`);
}

/** One line: every setting `domain set` changes, as the controller now holds them. */
export function describeSettings(domain: DomainView): string {
  const pinned = domain.pinHosts.length ? `${domain.pinHosts.length} host(s)` : "(any host)";
  const ha = domain.ha === true ? "on" : domain.ha === false ? "off" : "auto";
  return `${domain.name}: anti-affinity ${domain.antiAffinity ?? "(none)"}, pinned to ${pinned}, ha ${ha} (priority ${domain.haPriority ?? 0})`;
}
