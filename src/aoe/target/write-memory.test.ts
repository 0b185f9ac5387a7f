import { NativeWriteMemory } from "../../net/raw-socket/af-packet.js";
import { writeMemoryContract } from "./write-memory.contract.js";
import { RecentWrites } from "./write-order.js";

writeMemoryContract(
  "RecentWrites (TypeScript)",
  (maxAgeMs) => new RecentWrites(maxAgeMs === undefined ? {} : { maxAgeMs }),
);
writeMemoryContract(
  "NativeWriteMemory (the af_packet addon)",
  (maxAgeMs) => new NativeWriteMemory(undefined, maxAgeMs),
);
