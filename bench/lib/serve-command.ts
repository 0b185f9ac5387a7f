import { cliPath } from "../../test/lab/repo.js";

/**
 * Node's arguments to run `etherplane aoe serve` of this build, serving `file` as e1.0 on tgt0
 * with its state in `stateDir`; `extra` adds options (--durable, --buffer-count).
 */
export function serveOneExportArgs(file: string, stateDir: string, extra: string[] = []): string[] {
  return [
    cliPath,
    ...["aoe", "serve", "--iface", "tgt0", "--export", `1.0=${file}`],
    ...["--state-dir", stateDir, ...extra],
  ];
}
