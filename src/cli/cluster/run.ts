/**
 * `etherplane up`, `etherplane controller`, `etherplane agent` and `etherplane login`: the
 * long-running processes and the CLI's login. Logs go to stderr; SIGTERM/SIGINT stop cleanly.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { replaceFileSync } from "../../foundation/atomic-file.js";
import { EtherplaneError, errorMessage } from "../../foundation/errors.js";
import { createLogger } from "../../foundation/log.js";
import { HttpLink } from "../../cluster/agent/controller-link.js";
import { joinTokenPin } from "../../cluster/controller/join-tokens.js";
import { chooseTls } from "../../daemon/start-controller.js";
import { startAgent } from "../../daemon/start-agent.js";
import { startController } from "../../daemon/start-controller.js";
import { adminTokenPath, writeTokenFile } from "../../daemon/token-file.js";
import { noAoeInterfaceHelp, up } from "../../daemon/up.js";
import {
  AGENT_HYPERVISORS,
  detectHypervisor,
  openHypervisorDriver,
  type AgentHypervisor,
} from "../../hypervisor/open-driver.js";
import { parse, stringList, usageError } from "../args.js";
import { BOOT_DIR_DEFAULT } from "../../cluster/agent/compute/boot-files.js";
import { ApiClient } from "../client/api-client.js";
import { fetchPinnedCa, readCaFile, savedCaPath, writeCaFile } from "../client/ca-trust.js";
import { cliConfigPath, writeCliConfig } from "../client/cli-config.js";
import { checkControllerUrl, checkToken } from "../client/settings.js";
import { readTokenInput, TOKEN_HOW, tokenFlags } from "../client/token-input.js";
import { limitFlags, limitUsage, parseLimitFlags } from "./limit-flags.js";
import { leaseFlags, leaseUsage, parseLeaseFlags } from "./lease-flags.js";
import { migrationUsage, parseMigrationMibps } from "./migration-flags.js";
import { parseRequestTimeoutMs, requestTimeoutUsage } from "../aoe/request-timeout-flag.js";
import { REQUEST_TIMEOUT_MS_DEFAULT } from "../../aoe/initiator/aoe-block-device.js";
import { checkWatchdogPath } from "../../cluster/agent/watchdog-device.js";
import { AgentJoinReply, VolumeListReply } from "../../api/replies.js";

/**
 * The daemons' files (store, pools, agent state, token files) are the controller's user's alone:
 * whatever creates a file in the data directory, it is created 0600 (directories 0700).
 */
const DAEMON_UMASK = 0o077;

const DATA_DIR_DEFAULT = process.env["ETHERPLANE_DATA_DIR"] ?? "/var/lib/etherplane";
const LISTEN_DEFAULT = "127.0.0.1:7380";

function parseListen(text: string, usage: string): { host: string; port: number } {
  const match = /^(.+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port > 65535)
    throw usageError(`--listen ${text}: write HOST:PORT, e.g. ${LISTEN_DEFAULT}`, usage);
  return { host: (match[1] as string).replace(/^\[(.*)\]$/, "$1"), port };
}

/** How root recovers a lost admin token (records.ts, `token create --local`). */
function localTokenHint(dataDir: string): string {
  return `etherplane token create NAME --role admin --local --data-dir ${dataDir}`;
}

function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
}

export async function upCommand(args: string[]): Promise<void> {
  const usage =
    "etherplane up [--data-dir DIR] [--listen HOST:PORT] [--aoe-iface IF ...] [--name HOSTNAME]\n" +
    `  ${TLS_USAGE}\n  ${limitUsage}\n  ${leaseUsage}`;
  const { values } = parse(
    args,
    {
      "data-dir": { type: "string" },
      listen: { type: "string" },
      "aoe-iface": { type: "string", multiple: true },
      name: { type: "string" },
      ...tlsFlags,
      ...limitFlags,
      ...leaseFlags,
    },
    usage,
  );
  if (values.help) return void process.stdout.write(`usage: ${usage}\n`);
  const limits = { ...parseLimitFlags(values, usage), lease: parseLeaseFlags(values, usage) };
  process.umask(DAEMON_UMASK);
  const log = createLogger("cluster:up");
  const dataDir = values["data-dir"] ?? DATA_DIR_DEFAULT;
  const ifaces = stringList(values["aoe-iface"]);
  const listen = parseListen(values.listen ?? LISTEN_DEFAULT, usage);
  const running = await up({
    dataDir,
    ...listen,
    tls: tlsChoice(listen.host, values, usage),
    exportInterfaces: ifaces,
    ...(values.name ? { hostName: values.name } : {}),
    limits,
  });
  if (ifaces.length === 0) {
    const dataDirFlag = values["data-dir"] ? ` --data-dir ${values["data-dir"]}` : "";
    process.stdout.write(`${noAoeInterfaceHelp(dataDirFlag)}\n`);
  }
  const configFile = cliConfigPath();
  const tls = running.controller.tls;
  if (tls) {
    writeCaFile(savedCaPath(configFile), tls.caPem);
    process.stdout.write(`TLS: CA sha256 ${tls.caSha256} (join tokens carry it)\n`);
  }
  if (running.adminToken) {
    await writeCliConfig(configFile, { controller: running.url, token: running.adminToken });
    process.stdout.write(
      `etherplane is up at ${running.url}\nweb UI: ${running.url}/ (sign in with a token)\nadmin token saved in ${running.adminTokenFile} ` +
        `(mode 0600) and in the CLI's config ${configFile}\n` +
        "try: etherplane volume create web --size 1G\n",
    );
  } else {
    process.stdout.write(
      `etherplane is up at ${running.url}\nweb UI: ${running.url}/ (sign in with a token)\n(the first run saved the admin token in ` +
        `${running.adminTokenFile} and in the CLI's config ${configFile}; if they are lost, ` +
        `make another as root on this host: ${localTokenHint(dataDir)})\n`,
    );
  }
  const signal = await untilSignal();
  log.info(`${signal}: stopping`);
  await running.stop();
}

export async function controllerCommand(args: string[]): Promise<void> {
  const usage = `etherplane controller [--data-dir DIR] [--listen HOST:PORT]\n  ${TLS_USAGE}\n  ${limitUsage}\n  ${leaseUsage}`;
  const { values } = parse(
    args,
    {
      "data-dir": { type: "string" },
      listen: { type: "string" },
      ...tlsFlags,
      ...limitFlags,
      ...leaseFlags,
    },
    usage,
  );
  if (values.help) return void process.stdout.write(`usage: ${usage}\n`);
  const limits = { ...parseLimitFlags(values, usage), lease: parseLeaseFlags(values, usage) };
  process.umask(DAEMON_UMASK);
  const dataDir = values["data-dir"] ?? DATA_DIR_DEFAULT;
  const listen = parseListen(values.listen ?? LISTEN_DEFAULT, usage);
  const started = await startController({
    dataDir,
    ...listen,
    tls: tlsChoice(listen.host, values, usage),
    limits,
  });
  if (started.tls)
    process.stdout.write(
      `TLS: CA sha256 ${started.tls.caSha256} (join tokens carry it; the CLI logs in with --ca-sha256 ${started.tls.caSha256})\n`,
    );
  const tokens = await started.controller.store.listTokens();
  if (!tokens.some((t) => t.role === "admin" && !t.revoked)) {
    const { secret } = await started.controller.auth.createToken({ name: "admin", role: "admin" });
    const file = adminTokenPath(dataDir);
    writeTokenFile(file, secret, true);
    process.stdout.write(
      `admin token saved in ${file} (mode 0600): log in with etherplane login --controller ` +
        `${started.server.url} --token-file ${file}\n`,
    );
  }
  process.stdout.write(
    `controller listening at ${started.server.url}\nweb UI: ${started.server.url}/ (sign in with a token)\n`,
  );
  createLogger("cluster:controller").info(`${await untilSignal()}: stopping`);
  await started.stop();
}

interface AgentCredentials {
  controller: string;
  hostId: string;
  token: string;
  /** The controller's CA (PEM), pinned at join, for an https controller. */
  caPem?: string;
}

const TLS_USAGE =
  "[--tls-cert FILE --tls-key FILE] [--tls] [--insecure-http]   (off loopback: TLS with its own CA unless told)";
const tlsFlags = {
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  tls: { type: "boolean" },
  "insecure-http": { type: "boolean" },
} as const;

function tlsChoice(
  host: string,
  values: {
    "tls-cert"?: string | undefined;
    "tls-key"?: string | undefined;
    tls?: boolean | undefined;
    "insecure-http"?: boolean | undefined;
  },
  usage: string,
) {
  try {
    return chooseTls(host, {
      ...(values["tls-cert"] === undefined ? {} : { certFile: values["tls-cert"] }),
      ...(values["tls-key"] === undefined ? {} : { keyFile: values["tls-key"] }),
      tls: values.tls === true,
      insecureHttp: values["insecure-http"] === true,
    });
  } catch (error) {
    throw usageError(errorMessage(error), usage);
  }
}

/**
 * The CA an agent trusts for its controller: a join token's pin checked against what the
 * controller presents (before the token is sent), or --ca-file. Plain http needs neither.
 */
async function joinTrust(
  controller: string,
  joinToken: string,
  caFile: string | undefined,
): Promise<string | undefined> {
  const pin = joinTokenPin(joinToken);
  const secure = controller.startsWith("https:");
  if (caFile !== undefined) return readCaFile(caFile, "--ca-file");
  if (!secure) {
    if (pin !== null)
      throw new EtherplaneError(
        "INVALID_ARGUMENT",
        `the controller serves TLS (the join token pins its CA): join with https:// instead of ${controller}`,
      );
    return undefined;
  }
  if (pin === null) return undefined; // a plain-HTTP controller's token: the system's CAs decide
  return fetchPinnedCa(controller, pin);
}

export async function agentCommand(args: string[]): Promise<void> {
  const usage =
    "etherplane agent --join URL (--token-file FILE | --token - | ETHERPLANE_TOKEN=JOIN-TOKEN)\n" +
    "  [--name HOSTNAME] [--role storage|compute ...]\n" +
    "  [--aoe-iface IF ...] (storage: serve volumes on IF)\n" +
    "  [--hypervisor xen|qemu] [--san-iface IF ...] (compute: run domains; reach their disks on IF)\n" +
    `  [--boot-dir DIR] (compute: guests' kernels and ramdisks, default ${BOOT_DIR_DEFAULT})\n` +
    `  ${migrationUsage}\n` +
    `  ${requestTimeoutUsage("--san-request-timeout-ms", REQUEST_TIMEOUT_MS_DEFAULT, "compute: the guests' disk bridges ")}\n` +
    "  [--data-dir DIR] [--ca-file PEM] (trust this CA rather than the join token's pin)\n" +
    "  [--watchdog DEVICE] (e.g. /dev/watchdog: fed after each lease renewal; a hung agent reboots the host)";
  const { values } = parse(
    args,
    {
      join: { type: "string" },
      ...tokenFlags,
      name: { type: "string" },
      role: { type: "string", multiple: true },
      "aoe-iface": { type: "string", multiple: true },
      hypervisor: { type: "string" },
      "san-iface": { type: "string", multiple: true },
      "boot-dir": { type: "string" },
      "migration-mibps": { type: "string" },
      "san-request-timeout-ms": { type: "string" },
      "data-dir": { type: "string" },
      "ca-file": { type: "string" },
      watchdog: { type: "string" },
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
  const sanRequestTimeoutMs = parseRequestTimeoutMs(
    "--san-request-timeout-ms",
    values["san-request-timeout-ms"],
    usage,
  );
  // Checked before joining; opened (armed) only once the agent runs.
  if (values.watchdog !== undefined) checkWatchdogPath(values.watchdog);
  process.umask(DAEMON_UMASK);
  const dataDir = path.join(values["data-dir"] ?? DATA_DIR_DEFAULT, "agent");
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const credentialsFile = path.join(dataDir, "credentials.json");
  let credentials: AgentCredentials;
  if (fs.existsSync(credentialsFile)) {
    credentials = JSON.parse(fs.readFileSync(credentialsFile, "utf8")) as AgentCredentials;
  } else {
    const given = await readTokenInput(values);
    const fromEnv = process.env["ETHERPLANE_TOKEN"];
    if (!values.join || (given === undefined && !fromEnv))
      throw usageError(
        `this host has not joined yet: give --join URL and the join token (${TOKEN_HOW}; an admin makes one with: etherplane token create NAME --role join)`,
        usage,
      );
    const controller = checkControllerUrl(values.join, "--join");
    const joinToken = given ?? checkToken(fromEnv ?? "", "ETHERPLANE_TOKEN");
    const ifaces = stringList(values["aoe-iface"]);
    const caPem = await joinTrust(controller, joinToken, values["ca-file"]);
    const reply = await new ApiClient({
      baseUrl: controller,
      token: joinToken,
      ...(caPem === undefined ? {} : { caPem }),
    }).request("POST", "/api/v1/agent/join", AgentJoinReply, {
      name: values.name ?? os.hostname(),
      roles,
      exportInterfaces: ifaces,
    });
    credentials = {
      controller,
      hostId: reply.hostId,
      token: reply.token,
      ...(caPem === undefined ? {} : { caPem }),
    };
    replaceFileSync(credentialsFile, JSON.stringify(credentials));
  }
  const compute =
    roles.includes("compute") && hypervisor !== undefined
      ? {
          driver: openHypervisorDriver(
            hypervisor as AgentHypervisor,
            path.join(dataDir, "hypervisor"),
          ),
          sanInterfaces: stringList(values["san-iface"]),
          bootDir: path.resolve(values["boot-dir"] ?? BOOT_DIR_DEFAULT),
          migrationLimits: parseMigrationMibps(values["migration-mibps"], usage),
          ...(sanRequestTimeoutMs === undefined ? {} : { sanRequestTimeoutMs }),
        }
      : undefined;
  const agent = await startAgent({
    link: new HttpLink(credentials.controller, credentials.token, credentials.caPem),
    dataDir,
    ...(compute ? { compute } : {}),
    ...(values.watchdog === undefined ? {} : { watchdogPath: values.watchdog }),
  });
  process.stdout.write(
    `agent running for host ${credentials.hostId}, controller ${credentials.controller}\n`,
  );
  await untilSignal();
  await agent.stop();
}

export async function loginCommand(args: string[]): Promise<void> {
  const usage =
    "etherplane login --controller URL (--token-file FILE | --token - | ETHERPLANE_TOKEN=TOKEN)\n" +
    "  [--ca-file PEM | --ca-sha256 HEX]\n" +
    "  (https: trust the controller's CA from a file, or pin it by the SHA-256 the controller printed)";
  const { values } = parse(
    args,
    {
      controller: { type: "string" },
      ...tokenFlags,
      "ca-file": { type: "string" },
      "ca-sha256": { type: "string" },
    },
    usage,
  );
  if (values.help) return void process.stdout.write(`usage: ${usage}\n`);
  const given = await readTokenInput(values);
  const fromEnv = process.env["ETHERPLANE_TOKEN"];
  if (!values.controller || (given === undefined && !fromEnv))
    throw usageError(`give --controller and the token (${TOKEN_HOW})`, usage);
  const settings = {
    controller: checkControllerUrl(values.controller, "--controller"),
    token: given ?? checkToken(fromEnv ?? "", "ETHERPLANE_TOKEN"),
  };
  const pin = values["ca-sha256"]
    ?.toLowerCase()
    .replace(/^sha256[:-]/, "")
    .replace(/:/g, "");
  if (pin !== undefined && !/^[0-9a-f]{64}$/.test(pin))
    throw usageError("--ca-sha256: give the 64 hex digits the controller printed", usage);
  const caPem =
    values["ca-file"] !== undefined
      ? readCaFile(values["ca-file"], "--ca-file")
      : pin !== undefined
        ? await fetchPinnedCa(settings.controller, pin)
        : undefined;
  // Check the token before saving it: any readable route will do.
  await new ApiClient({
    baseUrl: settings.controller,
    token: settings.token,
    ...(caPem === undefined ? {} : { caPem }),
  })
    .request("GET", "/api/v1/volumes", VolumeListReply)
    .catch((error: unknown) => {
      if (error instanceof EtherplaneError && error.code === "FORBIDDEN") return; // a valid token of a narrower role
      throw error;
    });
  const file = cliConfigPath();
  await writeCliConfig(file, settings);
  if (caPem !== undefined) writeCaFile(savedCaPath(file), caPem);
  process.stdout.write(
    `logged in to ${settings.controller} (saved in ${file}${caPem === undefined ? "" : `, its CA in ${savedCaPath(file)}`})\n`,
  );
}
