/**
 * Where the `etherplane` process writes its logs: stderr always, as readable lines (`text`,
 * the default) or one JSON object per line (`json`) for a service manager's journal
 * (`controller`, `agent`, `aoe serve` under systemd). Chosen by `--log-format FORMAT` anywhere
 * before `--` on the command line (taken out before the command parses its own flags), else by
 * ETHERPLANE_LOG_FORMAT. The choice is passed on in the environment to the processes this one
 * starts (`up` runs a controller and an agent).
 */
import { parseLogFormat, type LogFormat } from "../foundation/log.js";

export const LOG_FORMAT_FLAG = "--log-format";
export const LOG_FORMAT_ENV = "ETHERPLANE_LOG_FORMAT";

/** The arguments without `--log-format`, and the format they or the environment chose. */
export function takeLogFormat(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): { argv: string[]; format: LogFormat } {
  const rest: string[] = [];
  let flag: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg === LOG_FORMAT_FLAG) {
      flag = argv[i + 1];
      if (flag === undefined) parseLogFormat("", LOG_FORMAT_FLAG);
      i += 1;
    } else if (arg.startsWith(`${LOG_FORMAT_FLAG}=`)) {
      flag = arg.slice(LOG_FORMAT_FLAG.length + 1);
    } else {
      rest.push(arg);
    }
  }
  if (flag !== undefined) return { argv: rest, format: parseLogFormat(flag, LOG_FORMAT_FLAG) };
  const fromEnv = env[LOG_FORMAT_ENV];
  const format =
    fromEnv === undefined || fromEnv === "" ? "text" : parseLogFormat(fromEnv, LOG_FORMAT_ENV);
  return { argv: rest, format };
}
