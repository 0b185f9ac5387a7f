/**
 * Test hosts and links: network namespaces joined by veth pairs and bridges, created for one test
 * and removed by `close()`. Every interface lives inside a namespace made here, so no packet ever
 * reaches the machine's own interfaces.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { promisify } from "node:util";
import { errorFields, errorMessage } from "../../src/foundation/errors.js";
import { createLogger } from "../../src/foundation/log.js";

const execFileAsync = promisify(execFile);
const log = createLogger("lab:netns");
/** How long a tap's deletion is tried again while QEMU may still be closing it. */
const TAP_DELETE_WAIT_MS = 10_000;

export async function run(
  command: string,
  args: readonly string[],
  options: { timeoutMs?: number; input?: string } = {},
): Promise<{ stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, {
      timeout: options.timeoutMs ?? 30_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { stdout, stderr };
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(" ")} failed: ${e.stderr?.trim() || e.message}`, {
      cause: error,
    });
  }
}

/** Runs a tool and returns its exit code and output, without throwing when it fails. */
export function runTool(
  command: string,
  args: readonly string[],
  timeoutMs = 60_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

export class Namespace {
  constructor(readonly name: string) {}

  /** Path usable as `RawSocketOptions.netnsPath`. */
  get path(): string {
    return `/var/run/netns/${this.name}`;
  }

  exec(command: string, args: readonly string[], timeoutMs?: number) {
    return run("ip", ["netns", "exec", this.name, command, ...args], { timeoutMs });
  }

  spawn(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    return spawn("ip", ["netns", "exec", this.name, command, ...args], options);
  }

  /**
   * Resolves once `ifname` passes frames: up, and activated. When the carrier comes on, the
   * kernel's linkwatch work sets the operational state UP and then activates the device's
   * transmit queues (linkwatch_do_dev: rfc2863_policy, then dev_activate); under load that work
   * can run well after `ip link set up` has returned, and until it does every frame sent is
   * dropped (a test's first frame lost, its wait timed out). Operational state UP seen on two
   * polls 10 ms apart: the activation right after it is done too.
   */
  async waitUntilPassing(ifname: string, deadlineMs = 30_000): Promise<void> {
    const until = Date.now() + deadlineMs;
    let upSeen = 0;
    for (;;) {
      const { stdout } = await run("ip", ["-n", this.name, "-o", "link", "show", "dev", ifname]);
      upSeen = stdout.includes(" state UP ") ? upSeen + 1 : 0;
      if (upSeen === 2) return;
      if (Date.now() > until)
        throw new Error(`${this.name}/${ifname} is not up after ${deadlineMs} ms: ${stdout}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async setMtu(ifname: string, mtu: number): Promise<void> {
    await this.exec("ip", ["link", "set", ifname, "mtu", String(mtu)]);
  }

  async mac(ifname: string): Promise<string> {
    const { stdout } = await this.exec("cat", [`/sys/class/net/${ifname}/address`]);
    return stdout.trim();
  }

  /** Deletes `tap` (already gone is fine); one still busy past the wait is logged and left. */
  async deleteTap(tap: string): Promise<void> {
    const deadline = Date.now() + TAP_DELETE_WAIT_MS;
    while (true) {
      try {
        await this.exec("ip", ["link", "del", tap]);
        return;
      } catch (error) {
        if (errorMessage(error).includes("Cannot find device")) return;
        if (Date.now() > deadline) {
          log.warn("tap not deleted", { tap, ...errorFields(error) });
          return;
        }
        // QEMU may still be closing it.
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
}

let counter = 0;

export class TestNet {
  private readonly namespaces: Namespace[] = [];
  private readonly children = new Set<ChildProcess>();

  /** `tag` is a short word (letters) that makes the namespace names readable in `ip netns`. */
  constructor(private readonly tag: string) {}

  async namespace(role: string): Promise<Namespace> {
    counter += 1;
    const ns = new Namespace(`ept-${this.tag}-${role}-${process.pid}-${counter}`);
    await run("ip", ["netns", "add", ns.name]);
    this.namespaces.push(ns);
    await ns.exec("ip", ["link", "set", "lo", "up"]);
    return ns;
  }

  /** A veth pair `aIf` in `a` <-> `bIf` in `b`, both up, with the given MTU. */
  async link(
    a: Namespace,
    aIf: string,
    b: Namespace,
    bIf: string,
    options: { mtu?: number; aMac?: string; bMac?: string } = {},
  ): Promise<void> {
    const args = ["link", "add", aIf, "netns", a.name];
    if (options.aMac) args.push("address", options.aMac);
    args.push("type", "veth", "peer", "name", bIf, "netns", b.name);
    if (options.bMac) args.push("address", options.bMac);
    await run("ip", args);
    for (const [ns, ifname] of [
      [a, aIf],
      [b, bIf],
    ] as const) {
      if (options.mtu) await ns.setMtu(ifname, options.mtu);
      await ns.exec("ip", ["link", "set", ifname, "up"]);
    }
    await a.waitUntilPassing(aIf);
    await b.waitUntilPassing(bIf);
  }

  /** A bridge in `ns` enslaving `members` (already in `ns`), all up, with the given MTU. */
  async bridge(ns: Namespace, name: string, members: readonly string[], mtu?: number) {
    await ns.exec("ip", ["link", "add", name, "type", "bridge"]);
    // No STP and no forwarding delay: frames flow as soon as a port is up.
    await ns.exec("ip", [
      "link",
      "set",
      name,
      "type",
      "bridge",
      "stp_state",
      "0",
      "forward_delay",
      "0",
    ]);
    for (const member of members) {
      if (mtu) await ns.setMtu(member, mtu);
      await ns.exec("ip", ["link", "set", member, "master", name]);
    }
    if (mtu) await ns.setMtu(name, mtu);
    await ns.exec("ip", ["link", "set", name, "up"]);
  }

  /** Tracks a child process so that `close()` kills it. */
  adopt(child: ChildProcess): ChildProcess {
    this.children.add(child);
    child.once("exit", () => this.children.delete(child));
    return child;
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.children].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once("exit", () => resolve());
            child.kill("SIGKILL");
          }),
      ),
    );
    for (const ns of this.namespaces.splice(0)) {
      await run("ip", ["netns", "del", ns.name]).catch(() => undefined);
    }
  }
}
