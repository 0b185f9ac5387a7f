/**
 * The RawSocket contract on the real implementation: AF_PACKET sockets on the two ends of a veth
 * pair between two network namespaces (a fresh pair for every case), and the lossy wrapper (no
 * faults) over them. Needs root. The simulated implementations run the same contract in
 * raw-socket.contract.test.ts.
 */
import { createAoeLink } from "../../../test/lab/aoe-lab.js";
import { LossySocket } from "../../../test/lab/lossy-socket.js";
import { openAfPacketSocket } from "./af-packet.js";
import { rawSocketContract, type RawSocketPair } from "./raw-socket.contract.js";
import { AOE_ETHERTYPE } from "../../aoe/codec/header.js";
import type { RawSocket } from "./raw-socket.js";

const WAIT_MS_MAX = 20_000;

async function vethPair(wrap: (socket: RawSocket) => RawSocket): Promise<RawSocketPair> {
  const link = await createAoeLink("rsc");
  try {
    const a = wrap(
      openAfPacketSocket({
        ifname: "tgt0",
        ethertype: AOE_ETHERTYPE,
        netnsPath: link.targetNs.path,
      }),
    );
    const b = wrap(
      openAfPacketSocket({
        ifname: "ini0",
        ethertype: AOE_ETHERTYPE,
        netnsPath: link.initiatorNs.path,
      }),
    );
    return {
      a,
      b,
      waitFor: async (what, condition) => {
        const deadline = Date.now() + WAIT_MS_MAX;
        while (!condition()) {
          if (Date.now() > deadline) throw new Error(`timed out after ${WAIT_MS_MAX} ms: ${what}`);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      },
      close: async () => {
        a.close();
        b.close();
        await link.close();
      },
    };
  } catch (error) {
    await link.close();
    throw error;
  }
}

rawSocketContract("AF_PACKET over veth", () => vethPair((socket) => socket));
rawSocketContract("lossy wrapper (no faults) over AF_PACKET", () =>
  vethPair((socket) => new LossySocket(socket, { seed: 1, dropRate: 0 })),
);
