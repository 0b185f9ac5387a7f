/**
 * A cluster test bench: `etherplane controller` and `etherplane agent` as real child processes,
 * each in its own network namespace, as separate machines would be. A "lan" namespace holds two
 * bridges: `mgmt` carries IP (10.77.0.0/24, private to these namespaces) for the controller's
 * HTTP API, `san` carries AoE between the storage hosts and the initiators.
 *
 * The test process sits in the root namespace and cannot reach an address inside them, so a tiny
 * forwarder in the controller's namespace accepts on a Unix socket (a file-system path, reachable
 * from every network namespace) and connects to the controller's TCP port.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { CliDaemon } from "./cli-process.js";
import { runTool, TestNet, type Namespace } from "./netns.js";

const SUBNET = "10.77.0";
const CONTROLLER_IP = `${SUBNET}.1`;
const CONTROLLER_PORT = 7380;
const CONTROLLER_URL = `http://${CONTROLLER_IP}:${CONTROLLER_PORT}`;
const REQUEST_TIMEOUT_MS = 10_000;
/** Generous: a Node process loading the CLI took over 15 s on this 2-core machine at load 20+. */
const PROCESS_START_MS_MAX = 60_000;
const LOG_TAIL_BYTES = 3000;

/** Accepts on a Unix socket and pipes each connection to HOST:PORT (argv: socket, host, port). */
const FORWARDER = `
const net = require("node:net");
const [, socketPath, host, port] = process.argv;
net.createServer((client) => {
  const upstream = net.connect(Number(port), host);
  client.on("error", () => upstream.destroy());
  upstream.on("error", () => client.destroy());
  client.pipe(upstream).pipe(client);
}).listen(socketPath, () => process.stdout.write("forwarding\\n"));
`;

export interface Reply<T> {
  status: number;
  body: T;
}

export interface StorageHost {
  name: string;
  ns: Namespace;
  /** The `--data-dir` of its agent. */
  dataDir: string;
  /** The interface its AoE target serves on (on the `san` bridge). */
  aoeIf: string;
  agent: CliDaemon | undefined;
  /** Compute hosts: the agent's hypervisor driver (its guests reach the san through aoeIf). */
  hypervisor?: "qemu" | "xen";
  /** Compute hosts: the agent's `--boot-dir` (guests' kernels and ramdisks; see bootFile). */
  bootDir?: string;
}

/** Resolves when the daemon's stdout matches `pattern`; returns the match. */
function waitForStdout(
  daemon: CliDaemon,
  stdout: () => string,
  pattern: RegExp,
): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + PROCESS_START_MS_MAX;
    const poll = () => {
      const match = pattern.exec(stdout());
      if (match) return resolve(match);
      if (daemon.child.exitCode !== null || daemon.child.signalCode !== null)
        return reject(new Error(`process exited before printing ${pattern}: ${daemon.stderr}`));
      if (Date.now() > deadline)
        return reject(new Error(`timed out waiting for ${pattern}: ${daemon.stderr}`));
      setTimeout(poll, 20);
    };
    poll();
  });
}

export class ClusterLab {
  readonly net: TestNet;
  adminToken = "";
  controller: CliDaemon | undefined;
  readonly hosts: StorageHost[] = [];
  private readonly socketPath: string;
  private lan!: Namespace;
  private controllerNs!: Namespace;
  private nextAddress = 2;
  private portCount = 0;

  private constructor(
    tag: string,
    /** Everything on disk: the controller's data, the agents' data, the API socket. */
    readonly dir: string,
  ) {
    this.net = new TestNet(tag);
    this.socketPath = path.join(dir, "api.sock");
  }

  /**
   * The lan (two bridges), the controller's host and the API forwarder, no etherplane process
   * yet; files go to a fresh directory under `parentDir`, removed by close().
   */
  static async create(tag: string, parentDir = os.tmpdir()): Promise<ClusterLab> {
    const lab = new ClusterLab(tag, fs.mkdtempSync(path.join(parentDir, `ep-${tag}-`)));
    try {
      lab.lan = await lab.net.namespace("lan");
      await lab.net.bridge(lab.lan, "mgmt", []);
      await lab.net.bridge(lab.lan, "san", []);
      lab.controllerNs = await lab.net.namespace("ctl");
      await lab.mgmtPort(lab.controllerNs, CONTROLLER_IP);
      const forwarder = lab.net.adopt(
        lab.controllerNs.spawn(process.execPath, [
          "-e",
          FORWARDER,
          lab.socketPath,
          CONTROLLER_IP,
          String(CONTROLLER_PORT),
        ]),
      );
      await new Promise<void>((resolve, reject) => {
        forwarder.stdout?.once("data", () => resolve());
        forwarder.once("exit", (code) => reject(new Error(`the API forwarder exited (${code})`)));
      });
    } catch (error) {
      await lab.close();
      throw error;
    }
    return lab;
  }

  /** A veth from `ns` (`mgmt0`, with `ip`) to the mgmt bridge. */
  private async mgmtPort(ns: Namespace, ip: string): Promise<void> {
    const port = `m${++this.portCount}`;
    await this.net.link(ns, "mgmt0", this.lan, port);
    await this.lan.exec("ip", ["link", "set", port, "master", "mgmt"]);
    await ns.exec("ip", ["addr", "add", `${ip}/24`, "dev", "mgmt0"]);
  }

  /** A veth from `ns` (`ifname`, optionally with `mac`) to the san bridge. */
  async sanPort(ns: Namespace, ifname: string, mac?: string): Promise<void> {
    const port = `s${++this.portCount}`;
    await this.net.link(ns, ifname, this.lan, port, mac ? { aMac: mac } : {});
    await this.lan.exec("ip", ["link", "set", port, "master", "san"]);
  }

  /** The namespace of the `mgmt` and `san` bridges, for hosts that plug a tap into them. */
  get lanNamespace(): Namespace {
    return this.lan;
  }

  /** The controller's namespace, e.g. for a browser that opens its web UI on mgmt. */
  get controllerNamespace(): Namespace {
    return this.controllerNs;
  }

  /** The controller's URL as hosts on mgmt reach it. */
  get controllerUrl(): string {
    return CONTROLLER_URL;
  }

  /** A free address on mgmt (10.77.0.0/24), e.g. for a Xen host's dom0. */
  mgmtAddress(): string {
    return `${SUBNET}.${this.nextAddress++}/24`;
  }

  /** A host on the san only (an initiator), with one port `aoe0`. */
  async initiatorHost(role: string, mac: string): Promise<Namespace> {
    const ns = await this.net.namespace(role);
    await this.sanPort(ns, "aoe0", mac);
    return ns;
  }

  /** A storage host: an IP on mgmt for its agent, `aoe0` on the san for its target. */
  async storageHost(name: string): Promise<StorageHost> {
    const ns = await this.net.namespace(name.replace(/[^a-z]/g, "") || "st");
    await this.mgmtPort(ns, `${SUBNET}.${this.nextAddress++}`);
    await this.sanPort(ns, "aoe0");
    const host: StorageHost = {
      name,
      ns,
      dataDir: path.join(this.dir, name),
      aoeIf: "aoe0",
      agent: undefined,
    };
    this.hosts.push(host);
    return host;
  }

  /**
   * A compute host: an IP on mgmt for its agent, `aoe0` on the san for its guests' disks (the
   * userspace initiator's NBD bridge), and the given hypervisor driver.
   */
  async computeHost(name: string, hypervisor: "qemu" | "xen"): Promise<StorageHost> {
    const host = await this.storageHost(name);
    host.hypervisor = hypervisor;
    host.bootDir = path.join(host.dataDir, "boot");
    fs.mkdirSync(host.bootDir, { recursive: true, mode: 0o755 });
    return host;
  }

  /**
   * Puts `file` (a kernel or ramdisk) in a compute host's boot directory and returns its path
   * there: a hard link, or a copy across file systems. Not a symlink: the agent follows those
   * and refuses one leading out of the directory.
   */
  bootFile(host: StorageHost, file: string): string {
    if (!host.bootDir) throw new Error(`${host.name} is not a compute host`);
    const target = path.join(host.bootDir, path.basename(file));
    if (fs.existsSync(target)) return target;
    try {
      fs.linkSync(file, target);
    } catch {
      fs.copyFileSync(file, target);
    }
    return target;
  }

  private spawn(
    args: string[],
    ns: Namespace,
    env?: Record<string, string>,
  ): { daemon: CliDaemon; stdout: () => string } {
    const daemon = new CliDaemon(args, { ns, ...(env ? { env } : {}) });
    this.net.adopt(daemon.child);
    let out = "";
    daemon.child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    return { daemon, stdout: () => out };
  }

  /** Starts the controller (same data directory every time); the first start yields the admin token. */
  /** `extraArgs`: more controller flags (e.g. leases for slow hosts). */
  async startController(extraArgs: string[] = []): Promise<void> {
    const { daemon, stdout } = this.spawn(
      [
        "controller",
        "--data-dir",
        path.join(this.dir, "controller"),
        "--listen",
        `${CONTROLLER_IP}:${CONTROLLER_PORT}`,
        // The lab's links are its own namespaces; TLS has its own test (tls.test.ts).
        "--insecure-http",
        ...extraArgs,
      ],
      this.controllerNs,
    );
    this.controller = daemon;
    await waitForStdout(daemon, stdout, /controller listening at/);
    // The first start saves the admin token in a file and prints the file's path.
    const file = /admin token saved in (\S+)/.exec(stdout())?.[1];
    if (file) this.adminToken = fs.readFileSync(file, "utf8").trim();
    if (!this.adminToken) throw new Error("the controller's first start printed no admin token");
  }

  /** A join token for the host `name` (used once: one per host, made when its agent first starts). */
  async joinTokenFor(name: string): Promise<string> {
    const reply = await this.call<{ secret: string }>("POST", "/api/v1/tokens", {
      name,
      role: "join",
    });
    if (reply.status !== 201) throw new Error(`join token for ${name}: ${JSON.stringify(reply)}`);
    return reply.body.secret;
  }

  /**
   * Starts (or restarts) a host's agent; the first start joins with the join token. `extraArgs`
   * go to `etherplane agent` as they are (e.g. `--migration-mibps 2`).
   */
  async startAgent(host: StorageHost, extraArgs: readonly string[] = []): Promise<void> {
    // A restarted agent has its credentials and ignores the token.
    const joinToken = await this.joinTokenFor(host.name);
    const { daemon, stdout } = this.spawn(
      [
        "agent",
        "--join",
        CONTROLLER_URL,
        "--name",
        host.name,
        ...(host.hypervisor
          ? [
              ...["--role", "compute", "--hypervisor", host.hypervisor],
              ...["--san-iface", host.aoeIf],
              ...(host.bootDir ? ["--boot-dir", host.bootDir] : []),
            ]
          : ["--aoe-iface", host.aoeIf]),
        "--data-dir",
        host.dataDir,
        ...extraArgs,
      ],
      host.ns,
      { ETHERPLANE_TOKEN: joinToken },
    );
    host.agent = daemon;
    await waitForStdout(daemon, stdout, /agent running for host/);
  }

  /** Runs `etherplane ARGS` as an administrator on the controller's host; resolves with its output. */
  cli(args: string[], input?: string): CliDaemon {
    const daemon = new CliDaemon([...args, "--controller", CONTROLLER_URL], {
      ns: this.controllerNs,
      env: { ETHERPLANE_TOKEN: this.adminToken },
    });
    this.net.adopt(daemon.child);
    if (input !== undefined) daemon.child.stdin?.end(input);
    return daemon;
  }

  /** kill -9, and waits until the process is gone. */
  static async kill(daemon: CliDaemon | undefined): Promise<void> {
    if (!daemon) return;
    daemon.signal("SIGKILL");
    await daemon.wait();
  }

  /** The last lines each process wrote to stderr, for failure messages. */
  logs(): string {
    const tail = (name: string, daemon: CliDaemon | undefined) =>
      daemon ? `--- ${name}:\n${daemon.stderr.slice(-LOG_TAIL_BYTES)}\n` : "";
    return [
      tail("controller", this.controller),
      ...this.hosts.map((h) => tail(`agent ${h.name}`, h.agent)),
    ].join("");
  }

  /** One HTTP call to the API through the forwarder (admin token unless told otherwise). */
  call<T = Record<string, unknown>>(
    method: string,
    route: string,
    body?: unknown,
    token: string = this.adminToken,
  ): Promise<Reply<T>> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const request = http.request(
        {
          socketPath: this.socketPath,
          path: route,
          method,
          // No keep-alive: a pooled connection could belong to a controller killed since.
          agent: false,
          timeout: REQUEST_TIMEOUT_MS,
          headers: {
            host: `${CONTROLLER_IP}:${CONTROLLER_PORT}`,
            authorization: `Bearer ${token}`,
            ...(payload === undefined
              ? {}
              : {
                  "content-type": "application/json",
                  "content-length": Buffer.byteLength(payload),
                }),
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (d: Buffer) => chunks.push(d));
          response.on("error", reject);
          response.on("end", () => {
            const text = Buffer.concat(chunks).toString();
            try {
              resolve({
                status: response.statusCode ?? 0,
                body: (text ? JSON.parse(text) : {}) as T,
              });
            } catch (error) {
              reject(
                new Error(`${method} ${route}: not JSON: ${text.slice(0, 200)}`, { cause: error }),
              );
            }
          });
        },
      );
      request.on("timeout", () => request.destroy(new Error(`${method} ${route} timed out`)));
      request.on("error", reject);
      request.end(payload);
    });
  }

  /**
   * Polls `probe` (null: done; a string: why not yet) every 50 ms until it is done, or fails
   * after `timeoutMs` saying what was awaited, the last reason and the processes' last logs.
   */
  async waitFor(
    what: string,
    timeoutMs: number,
    probe: () => Promise<string | null> | string | null,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let why = "not probed yet";
    for (;;) {
      try {
        const result = await probe();
        if (result === null) return;
        why = result;
      } catch (error) {
        why = `probe failed: ${(error as Error).message}`;
      }
      if (Date.now() > deadline)
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what}; last: ${why}\n${this.logs()}`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async close(): Promise<void> {
    await this.net.close(); // kills every process it adopted, removes the namespaces
    // Agents start detached processes meant to outlive them (QEMU guests, NBD disk bridges): a
    // failed test leaves them, and their arguments name files in this lab's folder.
    await runTool("pkill", ["-KILL", "-f", this.dir]);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
