/**
 * The RawSocket contract on the implementations that need no root: the simulated segment
 * (test/sim/sim-segment.ts) and the lossy wrapper (test/lab/lossy-socket.ts, with no faults, over
 * simulated sockets). The AF_PACKET socket runs the same contract in
 * raw-socket.contract.integ.test.ts.
 */
import { SimClock } from "../../foundation/sim-clock.js";
import { LossySocket } from "../../../test/lab/lossy-socket.js";
import { SeededRandom, simSeed } from "../../../test/sim/random.js";
import { SimSegment } from "../../../test/sim/sim-segment.js";
import { rawSocketContract, type RawSocketPair } from "./raw-socket.contract.js";
import { AOE_ETHERTYPE } from "../../aoe/codec/header.js";
import type { RawSocket } from "./raw-socket.js";

function simPair(wrap: (socket: RawSocket, seed: number) => RawSocket): Promise<RawSocketPair> {
  const seed = simSeed("RawSocket contract");
  const clock = new SimClock();
  const segment = new SimSegment(clock, new SeededRandom(seed), { jitterMs: 0.5 });
  const a = wrap(segment.attach("sim0", { ethertype: AOE_ETHERTYPE }), seed);
  const b = wrap(segment.attach("sim1", { ethertype: AOE_ETHERTYPE }), seed + 1);
  return Promise.resolve({
    a,
    b,
    waitFor: (what, condition) => clock.runUntil(condition, what, { virtualMsMax: 60_000 }),
    close: () => {
      a.close();
      b.close();
      return Promise.resolve();
    },
  });
}

rawSocketContract("simulated segment", () => simPair((socket) => socket));
rawSocketContract("lossy wrapper (no faults) over a simulated segment", () =>
  simPair((socket, seed) => new LossySocket(socket, { seed, dropRate: 0 })),
);
