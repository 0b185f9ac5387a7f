/**
 * An AoE test bench: a target host and an initiator host (network namespaces) joined by veth,
 * with the etherplane target and initiator running in the test process on sockets opened inside
 * those namespaces. Also backing files with known patterns.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createLogger } from "../../src/foundation/log.js";
import type { RawSocket } from "../../src/net/raw-socket/raw-socket.js";
import { openFileBlockDevice } from "../../src/block/file/file-block-device.js";
import { openAfPacketSocket } from "../../src/net/raw-socket/af-packet.js";
import { AOE_ETHERTYPE } from "../../src/aoe/codec/header.js";
import { AoeTarget, type TargetDeps } from "../../src/aoe/target/aoe-target.js";
import { parseTargetConfig, type TargetConfig } from "../../src/aoe/target/config.js";
import { FileExportStateStore } from "../../src/aoe/target/export-state.js";
import { DirectiveCommand, MaskCommand } from "../../src/aoe/codec/index.js";
import { macMaskCommand } from "../../src/aoe/initiator/admin.js";
import { AoeInitiator } from "../../src/aoe/initiator/aoe-initiator.js";
import { enginePaths, type DiscoveredTarget } from "../../src/aoe/initiator/discovery.js";
import { TestNet, type Namespace } from "./netns.js";

export { pattern } from "../sim/pattern.js";

export interface AoeLink {
  net: TestNet;
  targetNs: Namespace;
  initiatorNs: Namespace;
  /** Link i joins tgtI (target side) and iniI (initiator side); these are link 0's. */
  targetIf: string;
  initiatorIf: string;
  dir: string;
  /** An initiator on `ifnames` in the initiator namespace (default ini0), closed with the link. */
  initiator(ifnames?: string[]): AoeInitiator;
  /** Closes the initiators made with `initiator()`, the namespaces and the directory. */
  close(): Promise<void>;
}

/** Two hosts and `links` veth links (default 1). `tag` keeps namespace names apart between test files. */
export async function createAoeLink(
  tag: string,
  options: { mtu?: number; links?: number } = {},
): Promise<AoeLink> {
  const net = new TestNet(tag);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ep-${tag}-`));
  try {
    const targetNs = await net.namespace("tgt");
    const initiatorNs = await net.namespace("ini");
    for (let i = 0; i < (options.links ?? 1); i++) {
      await net.link(
        targetNs,
        `tgt${i}`,
        initiatorNs,
        `ini${i}`,
        options.mtu ? { mtu: options.mtu } : {},
      );
    }
    const initiators: AoeInitiator[] = [];
    return {
      net,
      targetNs,
      initiatorNs,
      targetIf: "tgt0",
      initiatorIf: "ini0",
      dir,
      initiator: (ifnames = ["ini0"]) => {
        const created = startInitiator(initiatorNs, ifnames);
        initiators.push(created);
        return created;
      },
      close: async () => {
        for (const initiator of initiators.splice(0)) initiator.close();
        await net.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await net.close();
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** A sparse backing file of `bytes`. */
export function makeBackingFile(dir: string, name: string, bytes: number): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, "");
  fs.truncateSync(file, bytes);
  return file;
}

/**
 * Starts the etherplane target in the test process, its sockets inside `ns`; `deps` replaces
 * any of its I/O (a slow disk, a capturing logger, the fast path off).
 */
export function startTarget(
  ns: Namespace,
  raw: Record<string, unknown>,
  deps: Partial<TargetDeps> = {},
): Promise<AoeTarget> {
  const config: TargetConfig = parseTargetConfig(raw);
  return AoeTarget.start(config, {
    openSocket: (ifname) => openAoeSocket(ns, ifname),
    openDevice: (file, options) => openFileBlockDevice(file, options),
    stateStore: new FileExportStateStore(config.stateDir),
    log: createLogger("test:aoe:target"),
    mtuPollMs: 200,
    ...deps,
  });
}

/** An AF_PACKET socket for AoE frames on `ifname` inside `ns` (to send hand-made frames). */
export function openAoeSocket(ns: Namespace, ifname: string): RawSocket {
  return openAfPacketSocket({ ifname, ethertype: AOE_ETHERTYPE, netnsPath: ns.path });
}

/** The MAC address of `ifname` inside `ns`, as bytes. */
export async function macOf(ns: Namespace, ifname: string): Promise<Buffer> {
  return Buffer.from((await ns.mac(ifname)).split(":").map((h) => parseInt(h, 16)));
}

/**
 * The bench most AoE tests start from: a fresh link (see createAoeLink), a sparse backing file
 * `disk` of `diskBytes` in its directory, and `serve()` to start a target on it.
 */
export interface AoeBench extends AoeLink {
  disk: string;
  /** The state directory of the targets `serve()` starts. */
  stateDir: string;
  /**
   * Starts the target serving `disk` at `address` on tgt0 (`config` adds to or replaces the
   * config, `deps` its I/O); `close()` stops it before the link goes.
   */
  serve(
    address: string,
    config?: Record<string, unknown>,
    deps?: Partial<TargetDeps>,
  ): Promise<AoeTarget>;
}

export async function createAoeBench(
  tag: string,
  options: { diskBytes: number; diskName?: string; mtu?: number; links?: number },
): Promise<AoeBench> {
  const link = await createAoeLink(tag, options);
  const disk = makeBackingFile(link.dir, options.diskName ?? "disk.img", options.diskBytes);
  const stateDir = `${link.dir}/state`;
  const targets: AoeTarget[] = [];
  return {
    ...link,
    disk,
    stateDir,
    serve: async (address, config = {}, deps = {}) => {
      const exports = [{ address, path: disk }];
      const raw = { stateDir, interfaces: ["tgt0"], exports, ...config };
      const target = await startTarget(link.targetNs, raw, deps);
      targets.push(target);
      return target;
    },
    close: async () => {
      for (const target of targets.splice(0)) await target.stop();
      await link.close();
    },
  };
}

/** An initiator in the test process, its sockets inside `ns`. */
export function startInitiator(ns: Namespace, ifnames: string[]): AoeInitiator {
  // As the CLI opens them (cli/aoe/initiator-sockets.ts): one receive buffer for every batch.
  return new AoeInitiator(
    ifnames.map((ifname) =>
      openAfPacketSocket({
        ifname,
        ethertype: AOE_ETHERTYPE,
        netnsPath: ns.path,
        reuseReceiveBuffer: true,
      }),
    ),
  );
}

/** The MAC of an initiator's first interface, as a volume's allow list takes it. */
export function initiatorMac(initiator: AoeInitiator): string {
  const mac = initiator.sockets[0]?.mac;
  if (!mac) throw new Error("the initiator has no interface");
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/**
 * Discovers until `shelf.slot` answers `initiator`, within `deadlineMs` (generous: the machine may
 * be loaded, a target just started); returns what answered.
 */
export async function discoverUntil(
  initiator: AoeInitiator,
  shelf: number,
  slot: number,
  deadlineMs = 20_000,
): Promise<DiscoveredTarget> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const found = await initiator.discover({ listenMs: 300 });
    const target = found.find((t) => t.shelf === shelf && t.slot === slot);
    if (target) return target;
    if (Date.now() > deadline) throw new Error(`e${shelf}.${slot} did not answer`);
  }
}

/** Adds the MAC of `initiator`'s first interface to `shelf.slot`'s mask list, over the wire. */
export async function maskToInitiator(
  initiator: AoeInitiator,
  shelf: number,
  slot: number,
): Promise<void> {
  const [path] = enginePaths(initiator.engine, await discoverUntil(initiator, shelf, slot));
  if (!path) throw new Error(`e${shelf}.${slot} answered on no path`);
  const mac = initiator.sockets[0]?.mac;
  if (!mac) throw new Error("the initiator has no interface");
  await macMaskCommand(initiator.engine, path, { shelf, slot }, MaskCommand.edit, [
    { dcmd: DirectiveCommand.add, mac },
  ]);
}
