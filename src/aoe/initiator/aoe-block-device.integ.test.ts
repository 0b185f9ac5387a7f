/** The BlockDevice contract on AoE volumes: our initiator's device over a veth to our target. */
import { after, before } from "node:test";
import { blockDeviceContract } from "../../../test/contracts/block-device.contract.js";
import {
  createAoeLink,
  makeBackingFile,
  startInitiator,
  startTarget,
  type AoeLink,
} from "../../../test/lab/aoe-lab.js";
import type { AoeTarget } from "../target/aoe-target.js";
import type { AoeInitiator } from "./aoe-initiator.js";

const SIZE = 1024 * 1024;
let link: AoeLink;
let target: AoeTarget;
let initiator: AoeInitiator;
const exports: Array<{ address: string; path: string }> = [];

before(async () => {
  link = await createAoeLink("bdc");
  target = await startTarget(link.targetNs, {
    stateDir: `${link.dir}/state`,
    interfaces: ["tgt0"],
    exports: [],
  });
  initiator = startInitiator(link.initiatorNs, ["ini0"]);
});

after(async () => {
  initiator?.close();
  await target?.stop();
  await link?.close();
});

blockDeviceContract("AoE volume (etherplane initiator -> etherplane target)", SIZE, async () => {
  // Each device is a fresh export, added live to the running target.
  const slot = exports.length;
  exports.push({ address: `3.${slot}`, path: makeBackingFile(link.dir, `v${slot}.img`, SIZE) });
  await target.apply({
    stateDir: `${link.dir}/state`,
    bufferCount: 64,
    exports: exports.map((e) => ({
      ...parse(e.address),
      path: e.path,
      interfaces: ["tgt0"],
      readOnly: false,
      durable: false,
    })),
  });
  return initiator.openDevice(3, slot);
});

function parse(address: string): { shelf: number; slot: number } {
  const [shelf, slot] = address.split(".").map(Number);
  return { shelf: shelf ?? 0, slot: slot ?? 0 };
}
