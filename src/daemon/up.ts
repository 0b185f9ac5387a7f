/**
 * `etherplane up`: a controller and an agent in one process on this machine. First run: an admin
 * token (saved in DATA_DIR/admin.token, mode 0600, never printed; the CLI command also writes it
 * to the CLI's config so that `etherplane volume ...` works at once),
 * this host registered with the storage role, and a directory pool "default" in the data directory.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { InProcessLink } from "../cluster/agent/controller-link.js";
import { startAgent, type StartedAgent } from "./start-agent.js";
import type { ControllerLimits } from "../cluster/controller/controller.js";
import { startController, type StartedController, type TlsChoice } from "./start-controller.js";
import { adminTokenPath, writeTokenFile } from "./token-file.js";

export interface UpOptions {
  dataDir: string;
  host: string;
  port: number;
  /**
   * Interfaces to serve AoE on (the SAN). None: volumes are kept but served to no host, never
   * on every interface that is up (a laptop's eth0 would offer them to its whole LAN).
   */
  exportInterfaces?: string[];
  hostName?: string;
  /** Default: TLS with its own CA off loopback, plain HTTP on it (see chooseTls). */
  tls?: TlsChoice;
  netnsPath?: string;
  /** How often the agent looks for foreign AoE targets (default 30 s). */
  scanIntervalMs?: number;
  limits?: Partial<ControllerLimits>;
}

/**
 * What `up` says when it was given no AoE interface: how to name one, and how to try AoE on this
 * machine alone with a veth pair (one end served, the other for the initiator).
 */
export function noAoeInterfaceHelp(dataDirFlag: string): string {
  return [
    "no AoE interface given: volumes are kept but served to no host.",
    "Serve them on the SAN's own interface (an isolated segment or VLAN; AoE has no authentication):",
    `  etherplane up${dataDirFlag} --aoe-iface eth1`,
    "Or try it on this machine alone with a veth pair:",
    "  ip link add ep-san0 type veth peer name ep-san1",
    "  ip link set ep-san0 up",
    "  ip link set ep-san1 up",
    `  etherplane up${dataDirFlag} --aoe-iface ep-san0`,
    "  etherplane volume allow NAME $(cat /sys/class/net/ep-san1/address)",
    "  etherplane aoe discover --iface ep-san1",
  ].join("\n");
}

export interface Up {
  url: string;
  /** Only on the first run, when the admin token is made; later runs reuse the saved one. */
  adminToken: string | null;
  /** Where the first run saved the admin token (mode 0600). */
  adminTokenFile: string;
  controller: StartedController;
  agent: StartedAgent;
  stop(): Promise<void>;
}

export async function up(options: UpOptions): Promise<Up> {
  const controller = await startController(options);
  try {
    const { controller: ctl } = controller;
    let adminToken: string | null = null;
    const tokens = await ctl.store.listTokens();
    if (!tokens.some((t) => t.role === "admin" && !t.revoked)) {
      adminToken = (await ctl.auth.createToken({ name: "admin", role: "admin" })).secret;
      writeTokenFile(adminTokenPath(options.dataDir), adminToken, true);
    }
    const exportInterfaces = options.exportInterfaces ?? [];
    const host = await ctl.agents.registerHost({
      name: options.hostName ?? os.hostname(),
      roles: ["storage"],
      exportInterfaces,
    });
    const pools = await ctl.store.listPools({ hostId: host.id });
    if (pools.length === 0) {
      const poolDir = path.join(options.dataDir, "pools", "default");
      fs.mkdirSync(poolDir, { recursive: true, mode: 0o700 });
      await ctl.createPool({ host: host.id, name: "default", kind: "directory", path: poolDir });
    }
    const agent = await startAgent({
      link: new InProcessLink(ctl.agents, host.id, ctl.consoles, ctl.migrationStreams),
      dataDir: path.join(options.dataDir, "agent"),
      ...(options.netnsPath ? { netnsPath: options.netnsPath } : {}),
      ...(options.scanIntervalMs ? { scanIntervalMs: options.scanIntervalMs } : {}),
    });
    return {
      url: controller.server.url,
      adminToken,
      adminTokenFile: adminTokenPath(options.dataDir),
      controller,
      agent,
      stop: async () => {
        await agent.stop();
        await controller.stop();
      },
    };
  } catch (error) {
    await controller.stop();
    throw error;
  }
}
