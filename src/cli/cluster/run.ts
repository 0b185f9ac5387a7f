/**
 * `etherplane up`, `etherplane controller`, `etherplane agent` and `etherplane login`: the
 * long-running processes and the CLI's login. Logs go to stderr; SIGTERM/SIGINT stop cleanly.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { EtherplaneError } from "../../foundation/errors.js";
import { createLogger } from "../../foundation/log.js";
import { HttpLink, callController } from "../../cluster/agent/controller-link.js";
import { startAgent } from "../../cluster/runtime/start-agent.js";
import { startController } from "../../cluster/runtime/start-controller.js";
import { up } from "../../cluster/runtime/up.js";
import {
  AGENT_HYPERVISORS,
  detectHypervisor,
  openHypervisorDriver,
  type AgentHypervisor,
} from "../../hypervisor/open-driver.js";
import { parse, stringList, usageError } from "../args.js";
import { ApiClient } from "../client/api-client.js";
import { cliConfigPath, writeCliConfig } from "../client/cli-config.js";
import { checkControllerUrl, checkToken } from "../client/settings.js";

const DATA_DIR_DEFAULT = process.env["ETHERPLANE_DATA_DIR"] ?? "/var/lib/etherplane";
const LISTEN_DEFAULT = "127.0.0.1:7380";

function parseListen(text: string, usage: string): { host: string; port: number } {
  const match = /^(.+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port > 65535)
    throw usageError(`--listen ${text}: write HOST:PORT, e.g. ${LISTEN_DEFAULT}`, usage);
  return { host: (match[1] as string).replace(/^\[(.*)\]$/, "$1"), port };
}

function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
}

export async function upCommand(args: string[]): Promise<void> {
  const usage =
    "etherplane up [--data-dir DIR] [--listen HOST:PORT] [--aoe-iface IF ...] [--name HOSTNAME]";
  const { values } = parse(
    args,
    {
      "data-dir": { type: "string" },
      listen: { type: "string" },
      "aoe-iface": { type: "string", multiple: true },
      name: { type: "string" },
    },
    usage,
  );
  if (values.help) return void process.stdout.write(`usage: ${usage}\n`);
  const log = createLogger("cluster:up");
  const dataDir = values["data-dir"] ?? DATA_DIR_DEFAULT;
  const ifaces = stringList(values["aoe-iface"]);
  const running = await up({
    dataDir,
    ...parseListen(values.listen ?? LISTEN_DEFAULT, usage),
    ...(ifaces.length > 0 ? { exportInterfaces: ifaces } : {}),
    ...(values.name ? { hostName: values.name } : {}),
  });
  const configFile = cliConfigPath();
  if (running.adminToken) {
    await writeCliConfig(configFile, { controller: running.url, token: running.adminToken });
    process.stdout.write(
      `etherplane is up at ${running.url}\nweb UI: ${running.url}/ (sign in with a token)\nadmin token: ${running.adminToken}\n(saved for the CLI in ${configFile}; try: etherplane volume create web --size 1G)\n`,
    );
  } else {
    process.stdout.write(
      `etherplane is up at ${running.url}\nweb UI: ${running.url}/ (sign in with a token)\n(the admin token was printed on the first run and saved in ${configFile})\n`,
    );
  }
  const signal = await untilSignal();
  log.info(`${signal}: stopping`);
  await running.stop();
}

export async function controllerCommand(args: string[]): Promise<void> {
  const usage = "etherplane controller [--data-dir DIR] [--listen HOST:PORT]";
  const { values } = parse(
    args,
    { "data-dir": { type: "string" }, listen: { type: "string" } },
    usage,
  );
  if (values.help) return void process.stdout.write(`usage: ${usage}\n`);
  const started = await startController({
    dataDir: values["data-dir"] ?? DATA_DIR_DEFAULT,
    ...parseListen(values.listen ?? LISTEN_DEFAULT, usage),
  });
  const tokens = await started.controller.store.listTokens();
  if (!tokens.some((t) => t.role === "admin" && !t.revoked)) {
    const { secret } = await started.controller.auth.createToken({ name: "admin", role: "admin" });
    process.stdout.write(
      `admin token: ${secret}\n(shown once: keep it, or log in with it: etherplane login --controller ${started.server.url} --token ...)\n`,
    );
  }
  process.stdout.write(
    `controller listening at ${started.server.url}\nweb UI: ${started.server.url}/ (sign in with a token)\n`,
  );
  await untilSignal();
  await started.stop();
}

interface AgentCredentials {
  controller: string;
  hostId: string;
  token: string;
}

export async function agentCommand(args: string[]): Promise<void> {
  const usage =
    "etherplane agent --join URL --token JOIN-TOKEN [--name HOSTNAME] [--role storage|compute ...]\n" +
    "  [--aoe-iface IF ...] (storage: serve volumes on IF)\n" +
    "  [--hypervisor xen|qemu] [--san-iface IF ...] (compute: run domains; reach their disks on IF)\n" +
    "  [--data-dir DIR]";
  const { values } = parse(
    args,
    {
      join: { type: "string" },
      token: { type: "string" },
      name: { type: "string" },
      role: { type: "string", multiple: true },
      "aoe-iface": { type: "string", multiple: true },
      hypervisor: { type: "string" },
      "san-iface": { type: "string", multiple: true },
      "data-dir": { type: "string" },
    },
    usage,
  );
  const roles = stringList(values.role);
  for (const role of roles)
    if (role !== "storage" && role !== "compute")
      throw usageError(`--role ${role}: a host is storage, compute or both`, usage);
  if (roles.length === 0) roles.push(values.hypervisor ? "compute" : "storage");
  const hypervisor =
    values.hypervisor ?? (roles.includes("compute") ? detectHypervisor() : undefined);
  if (hypervisor !== undefined && !(AGENT_HYPERVISORS as readonly string[]).includes(hypervisor))
    throw usageError(`--hypervisor ${hypervisor}: choose xen or qemu`, usage);
  if (values.help) return void process.stdout.write(`usage: ${usage}\n`);
  const dataDir = path.join(values["data-dir"] ?? DATA_DIR_DEFAULT, "agent");
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const credentialsFile = path.join(dataDir, "credentials.json");
  let credentials: AgentCredentials;
  if (fs.existsSync(credentialsFile)) {
    credentials = JSON.parse(fs.readFileSync(credentialsFile, "utf8")) as AgentCredentials;
  } else {
    if (!values.join || !values.token)
      throw usageError(
        "this host has not joined yet: give --join URL and --token JOIN-TOKEN (an admin makes one with: etherplane token create NAME --role join)",
        usage,
      );
    const controller = checkControllerUrl(values.join, "--join");
    const joinToken = checkToken(values.token, "--token");
    const ifaces = stringList(values["aoe-iface"]);
    const reply = await callController<{ hostId: string; token: string }>(
      controller,
      joinToken,
      "POST",
      "/api/v1/agent/join",
      { name: values.name ?? os.hostname(), roles, exportInterfaces: ifaces },
    );
    credentials = { controller, hostId: reply.hostId, token: reply.token };
    fs.writeFileSync(`${credentialsFile}.tmp`, JSON.stringify(credentials), { mode: 0o600 });
    fs.renameSync(`${credentialsFile}.tmp`, credentialsFile);
  }
  const compute =
    roles.includes("compute") && hypervisor !== undefined
      ? {
          driver: openHypervisorDriver(
            hypervisor as AgentHypervisor,
            path.join(dataDir, "hypervisor"),
          ),
          sanInterfaces: stringList(values["san-iface"]),
        }
      : undefined;
  const agent = await startAgent({
    link: new HttpLink(credentials.controller, credentials.token),
    dataDir,
    ...(compute ? { compute } : {}),
  });
  process.stdout.write(
    `agent running for host ${credentials.hostId}, controller ${credentials.controller}\n`,
  );
  await untilSignal();
  await agent.stop();
}

export async function loginCommand(args: string[]): Promise<void> {
  const usage = "etherplane login --controller URL --token TOKEN";
  const { values } = parse(
    args,
    { controller: { type: "string" }, token: { type: "string" } },
    usage,
  );
  if (values.help) return void process.stdout.write(`usage: ${usage}\n`);
  if (!values.controller || !values.token) throw usageError("give --controller and --token", usage);
  const settings = {
    controller: checkControllerUrl(values.controller, "--controller"),
    token: checkToken(values.token, "--token"),
  };
  // Check the token before saving it: any readable route will do.
  await new ApiClient({ baseUrl: settings.controller, token: settings.token })
    .request("GET", "/api/v1/volumes")
    .catch((error: unknown) => {
      if (error instanceof EtherplaneError && error.code === "FORBIDDEN") return; // a valid token of a narrower role
      throw error;
    });
  const file = cliConfigPath();
  await writeCliConfig(file, settings);
  process.stdout.write(`logged in to ${settings.controller} (saved in ${file})\n`);
}
