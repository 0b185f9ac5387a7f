/** `etherplane settings [set KEY VALUE]`: the cluster's settings (placement's overcommit). */
import { parse, usageError } from "../args.js";
import { printJson } from "../output/json.js";
import { formatTable } from "../output/table.js";
import { openSession, sessionFlags } from "./session.js";
import { SettingListReply, SettingReply } from "../../api/replies.js";

const usage =
  "etherplane settings [--json]            show the cluster's settings\n" +
  "       etherplane settings set KEY VALUE   (admin) e.g. settings set cpu_overcommit 2";

export async function settingsCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, sessionFlags, usage);
  if (values.help) return void process.stdout.write(`usage: ${usage}\n`);
  const [command, key, value, ...extra] = positionals;
  const session = await openSession(values);
  if (command === undefined || command === "list") {
    const { settings } = await session.client.request("GET", "/api/v1/settings", SettingListReply);
    if (session.json) return printJson({ settings });
    const rows = settings.map((s) => [
      s.key,
      String(s.value),
      String(s.default),
      `${s.min}-${s.max}`,
      s.summary,
    ]);
    return void process.stdout.write(
      `${formatTable([{ header: "KEY" }, { header: "VALUE", align: "right" }, { header: "DEFAULT", align: "right" }, { header: "RANGE" }, { header: "MEANING" }], rows)}\n`,
    );
  }
  if (command !== "set") throw usageError(`unknown settings command "${command}"`, usage);
  if (key === undefined || value === undefined || extra.length > 0)
    throw usageError("settings set: give KEY and VALUE", usage);
  const number = Number(value);
  if (value.trim() === "" || !Number.isFinite(number))
    throw usageError(`settings set ${key}: "${value}" is not a number`, usage);
  const { setting } = await session.client.request(
    "PUT",
    `/api/v1/settings/${encodeURIComponent(key)}`,
    SettingReply,
    { value: number },
  );
  if (session.json) return printJson({ setting });
  process.stdout.write(`${setting.key} = ${setting.value} (from the next placement)\n`);
}
