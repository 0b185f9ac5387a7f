import { NativeWriteMemory } from "../../net/raw-socket/af-packet.js";
import { writeMemoryContract } from "./write-memory.contract.js";
import { RecentWrites } from "./write-order.js";

writeMemoryContract("RecentWrites (TypeScript)", () => new RecentWrites());
writeMemoryContract("NativeWriteMemory (the af_packet addon)", () => new NativeWriteMemory());
