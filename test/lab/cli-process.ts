/** Runs `etherplane` as a user would: as a child process, optionally inside a test namespace. */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { cliPath } from "./repo.js";
import type { Namespace } from "./netns.js";

export interface CliResult {
  code: number | null;
  stdout: string;
  /** stdout as bytes, for binary output. */
  stdoutBytes: Buffer;
  stderr: string;
}

export function runCli(
  args: string[],
  options: {
    ns?: Namespace;
    input?: Buffer;
    timeoutMs?: number;
    env?: Record<string, string>;
  } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, options);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on("data", (d: Buffer) => out.push(d));
    child.stderr?.on("data", (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      resolve({
        code,
        stdout: stdoutBytes.toString(),
        stdoutBytes,
        stderr: Buffer.concat(err).toString(),
      });
    });
    child.stdin?.end(options.input ?? Buffer.alloc(0));
  });
}

export function spawnCli(
  args: string[],
  options: { ns?: Namespace; env?: Record<string, string> } = {},
): ChildProcess {
  const command = options.ns
    ? (["ip", ["netns", "exec", options.ns.name, process.execPath, cliPath, ...args]] as const)
    : ([process.execPath, [cliPath, ...args]] as const);
  return spawn(command[0], command[1], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, ETHERPLANE_LOG: "info", ...options.env },
  });
}

/** A long-running CLI process (e.g. `aoe serve`) whose stderr is collected and can be waited on. */
export class CliDaemon {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  private readonly exited: Promise<number | null>;

  constructor(args: string[], options: { ns?: Namespace; env?: Record<string, string> } = {}) {
    this.child = spawnCli(args, options);
    this.child.stdout?.on("data", (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr?.on("data", (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
  }

  /** Resolves when stderr matches `pattern`; rejects if the process exits or time runs out. */
  async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.stderr)) {
      if (this.child.exitCode !== null)
        throw new Error(
          `process exited (${this.child.exitCode}) before ${pattern}: ${this.stderr}`,
        );
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${pattern}: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  signal(name: NodeJS.Signals): void {
    this.child.kill(name);
  }

  wait(): Promise<number | null> {
    return this.exited;
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    return this.exited;
  }
}

/**
 * `etherplane up` as a process in `ns`, its data and the CLI's config under `dir`, serving AoE
 * on `iface`; resolves once it has saved the admin token (in the config for the CLI, and in
 * `adminTokenFile`, whose path it prints).
 * `env` is what later `runCli` calls need to use that config.
 */
export async function startUpProcess(options: {
  ns: Namespace;
  dir: string;
  iface: string;
  listen: string;
  name: string;
}): Promise<{ daemon: CliDaemon; env: Record<string, string>; adminTokenFile: string }> {
  const env = { ETHERPLANE_CONFIG: `${options.dir}/cli.json`, ETHERPLANE_LOG: "warn" };
  const daemon = new CliDaemon(
    ["up", "--data-dir", `${options.dir}/data`, "--aoe-iface", options.iface].concat([
      "--listen",
      options.listen,
      "--name",
      options.name,
    ]),
    { ns: options.ns, env },
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    const saved = /admin token saved in (\S+)/.exec(daemon.stdout);
    if (saved?.[1]) return { daemon, env, adminTokenFile: saved[1] };
    if (daemon.child.exitCode !== null)
      throw new Error(`etherplane up exited (${daemon.child.exitCode}): ${daemon.stderr}`);
    if (Date.now() > deadline)
      throw new Error(`etherplane up said nothing of an admin token: ${daemon.stderr}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * `etherplane args --controller URL` with `token`, as a user with an empty HOME and no config
 * runs it (nothing of this process's environment but PATH), out of any namespace.
 */
export async function runCliAgainst(
  controller: string,
  token: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const home = await mkdtemp(path.join(os.tmpdir(), "ep-cli-home-"));
  try {
    return await new Promise((resolve) => {
      const child = execFile(
        process.execPath,
        [cliPath, ...args, "--controller", controller],
        {
          env: {
            PATH: process.env["PATH"],
            HOME: home,
            ETHERPLANE_CONFIG: path.join(home, "none.json"),
            ETHERPLANE_TOKEN: token,
          },
          timeout: 120_000,
        },
        (_error, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }),
      );
      child.stdin?.end();
    });
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}
