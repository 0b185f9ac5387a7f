/**
 * `etherplane up` on an AoE link's target namespace, the data under the link's directory and AoE
 * served on tgt0: as a process with the CLI's config (`startUpBox`, for the tests that drive the
 * `etherplane` command as a user types it, and the web UI's), or in this process (`upOnLink`, for
 * the daemon's tests that call the API).
 */
import * as path from "node:path";
import { up, type Up, type UpOptions } from "../../src/daemon/up.js";
import { createAoeLink, type AoeLink } from "./aoe-lab.js";
import { runCli, startUpProcess, type CliDaemon, type CliResult } from "./cli-process.js";

export interface UpBox {
  link: AoeLink;
  /** The API's (and the web UI's) address: http://LISTEN. */
  url: string;
  daemon: CliDaemon;
  /** What a `runCli` in `link.targetNs` needs to use this box's config (and its admin token). */
  env: Record<string, string>;
  /** Where `up` saved the admin token (0600). */
  adminTokenFile: string;
  /** `etherplane args` in the box's namespace with its config; `env` adds to the box's. */
  cli(
    args: string[],
    options?: { input?: Buffer; env?: Record<string, string>; timeoutMs?: number },
  ): Promise<CliResult>;
  /** Stops `up`, then removes the namespaces and the directory. */
  close(): Promise<void>;
}

/**
 * Starts the box; `tag` keeps its namespaces apart from other test files', `listen` is the API's
 * address. `umask`, when given, is the one `up` inherits (the process's is restored after).
 */
export async function startUpBox(options: {
  tag: string;
  listen: string;
  umask?: number;
}): Promise<UpBox> {
  const link = await createAoeLink(options.tag);
  const previousUmask = options.umask === undefined ? undefined : process.umask(options.umask);
  const started = startUpProcess({
    ns: link.targetNs,
    dir: link.dir,
    iface: "tgt0",
    listen: options.listen,
    name: "box1",
  });
  if (previousUmask !== undefined) process.umask(previousUmask); // up has been spawned with it
  const { daemon, env, adminTokenFile } = await started.catch(async (error: unknown) => {
    await link.close();
    throw error;
  });
  const cli: UpBox["cli"] = (args, more = {}) =>
    runCli(args, {
      ns: link.targetNs,
      env: { ...env, ...more.env },
      ...(more.input ? { input: more.input } : {}),
      ...(more.timeoutMs === undefined ? {} : { timeoutMs: more.timeoutMs }),
    });
  const close = async (): Promise<void> => {
    await daemon.stop();
    await link.close();
  };
  return { link, url: `http://${options.listen}`, daemon, env, adminTokenFile, cli, close };
}

/** `up` in this process on `link`: host storage1, the API on a free port of 127.0.0.1. */
export function upOnLink(link: AoeLink, more: Partial<UpOptions> = {}): Promise<Up> {
  return up({
    dataDir: path.join(link.dir, "data"),
    host: "127.0.0.1",
    port: 0,
    exportInterfaces: ["tgt0"],
    hostName: "storage1",
    netnsPath: link.targetNs.path,
    ...more,
  });
}
