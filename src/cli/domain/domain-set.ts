/**
 * `etherplane domain set NAME --anti-affinity GROUP --pin HOST[,HOST]`: a domain's etherplane
 * settings (not xl.cfg keys: the file stays as written), used from its next placement. Each
 * flag is one entry of DOMAIN_SET_FLAGS: a new setting is one more entry.
 */
import type { DomainRecord } from "../../cluster/model.js";
import { parse, usageError, type Options } from "../args.js";
import { openSession, sessionFlags } from "../cluster/session.js";
import { printJson } from "../output/json.js";
import { haFlags, setHa } from "./ha-settings.js";

interface SetFlag {
  option: Options[string];
  help: string;
  /** The request's fields for the flag's value. */
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
};

const usage =
  "etherplane domain set NAME [--FLAG VALUE]...   (used from the domain's next placement)\n" +
  Object.entries(DOMAIN_SET_FLAGS)
    .map(([flag, f]) => `  --${flag} ${f.help}`)
    .join("\n") +
  "\n  --ha on|off|auto: restarted elsewhere when its host dies (auto: on when on_crash or" +
  "\n    on_reboot is restart)\n  --ha-priority N: the highest priority restarts first";

export async function domainSetCommand(args: string[]): Promise<void> {
  const own = Object.fromEntries(Object.entries(DOMAIN_SET_FLAGS).map(([k, f]) => [k, f.option]));
  const { values, positionals } = parse(args, { ...sessionFlags, ...own, ...haFlags }, usage);
  if (values.help) return void process.stdout.write(`usage: ${usage}\n`);
  const name = positionals[0];
  if (!name || positionals.length > 1) throw usageError("domain set: name one domain", usage);
  const body: Record<string, unknown> = {};
  const given = values as Record<string, unknown>;
  for (const [flag, f] of Object.entries(DOMAIN_SET_FLAGS)) {
    const value = given[flag];
    if (typeof value === "string") Object.assign(body, f.body(value));
  }
  const haGiven = values.ha !== undefined || values["ha-priority"] !== undefined;
  if (Object.keys(body).length === 0 && !haGiven)
    throw usageError("domain set: give at least one setting", usage);
  const session = await openSession(values);
  if (haGiven) await setHa(session, name, values, usage);
  if (Object.keys(body).length === 0) return;
  const { domain } = await session.client.request<{ domain: DomainRecord }>(
    "PATCH",
    `/api/v1/domains/${encodeURIComponent(name)}/settings`,
    body,
  );
  if (session.json) return printJson({ domain });
  process.stdout.write(
    `${domain.name}: anti-affinity ${domain.antiAffinity ?? "(none)"}, pinned to ${domain.pinHosts.length ? `${domain.pinHosts.length} host(s)` : "(any host)"}\n`,
  );
}
