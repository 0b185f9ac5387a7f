/**
 * Target workers (`aoe serve --workers N`) split the exports between N sockets on one interface:
 * worker i serves the exports whose address key (shelf * 256 + slot) is i modulo N, and the
 * kernel hands its socket only their frames, plus the broadcast-addressed ones (discovery: every
 * worker answers for its own exports). The choice is made by a classic BPF receive filter
 * (SO_ATTACH_FILTER, Documentation/networking/filter.rst), built here as pure data.
 *
 * Why a filter per socket rather than PACKET_FANOUT: a fanout group picks one member per frame,
 * and a member's index is its join order, renumbered when one leaves (__fanout_unlink,
 * net/packet/af_packet.c): a worker restarting would shift exports between workers while their
 * requests are in flight; and a broadcast query must reach every worker, which fanout cannot do.
 * The filters cost one short program per socket per frame, in the kernel.
 *
 * Offsets are from the Ethernet destination MAC: a packet socket of type SOCK_RAW runs its
 * filter on the whole frame (packet_rcv pushes the MAC header back first). An 802.1Q tag is
 * already stripped there (the target drops tagged frames anyway). AoE header (AoEr11 section 2):
 * ver/flags at 14, error at 15, major (shelf, 16 bits) at 16, minor (slot) at 18.
 */
import { EtherplaneError } from "../../foundation/errors.js";
import {
  AOE_MAJOR as SHELF_OFFSET,
  AOE_MINOR as SLOT_OFFSET,
  AOE_SHELF_BROADCAST as SHELF_BROADCAST,
  AOE_SLOT_BROADCAST as SLOT_BROADCAST,
} from "../codec/header.js";
/** Bounded so that a typo cannot start thousands of sockets; a storage host has few cores. */
export const TARGET_WORKERS_MAX = 64;

// Classic BPF opcodes (linux/bpf_common.h, linux/filter.h).
const BPF_LD = 0x00;
const BPF_ALU = 0x04;
const BPF_JMP = 0x05;
const BPF_RET = 0x06;
const BPF_MISC = 0x07;
const BPF_H = 0x08;
const BPF_B = 0x10;
const BPF_ABS = 0x20;
const BPF_K = 0x00;
const BPF_X = 0x08;
const BPF_ADD = 0x00;
const BPF_LSH = 0x60;
const BPF_MOD = 0x90;
const BPF_JEQ = 0x10;
const BPF_TAX = 0x00;

/** One struct sock_filter: code, jump-if-true, jump-if-false (relative), constant. */
export interface BpfInstruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** The number of bytes the kernel copies to the socket: all of it. */
const ACCEPT = 0xffffffff;

/** Which worker serves an export: the same arithmetic as the filter's. */
export function workerOfExport(shelf: number, slot: number, workers: number): number {
  return (shelf * 256 + slot) % workers;
}

/** The filter of worker `index` of `workers`, as instructions (see the header comment). */
export function shardProgram(index: number, workers: number): BpfInstruction[] {
  if (!Number.isInteger(workers) || workers < 1 || workers > TARGET_WORKERS_MAX)
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `workers must be an integer in [1, ${TARGET_WORKERS_MAX}] (got ${workers})`,
    );
  if (!Number.isInteger(index) || index < 0 || index >= workers)
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `worker index must be an integer in [0, ${workers - 1}] (got ${index})`,
    );
  // A frame too short for a load makes the kernel's filter return 0: dropped, as it is malformed.
  return [
    /* 0 */ { code: BPF_LD | BPF_H | BPF_ABS, jt: 0, jf: 0, k: SHELF_OFFSET },
    /* 1 */ { code: BPF_JMP | BPF_JEQ | BPF_K, jt: 8, jf: 0, k: SHELF_BROADCAST }, // -> 10
    /* 2 */ { code: BPF_ALU | BPF_LSH | BPF_K, jt: 0, jf: 0, k: 8 },
    /* 3 */ { code: BPF_MISC | BPF_TAX, jt: 0, jf: 0, k: 0 },
    /* 4 */ { code: BPF_LD | BPF_B | BPF_ABS, jt: 0, jf: 0, k: SLOT_OFFSET },
    /* 5 */ { code: BPF_JMP | BPF_JEQ | BPF_K, jt: 4, jf: 0, k: SLOT_BROADCAST }, // -> 10
    /* 6 */ { code: BPF_ALU | BPF_ADD | BPF_X, jt: 0, jf: 0, k: 0 },
    /* 7 */ { code: BPF_ALU | BPF_MOD | BPF_K, jt: 0, jf: 0, k: workers },
    /* 8 */ { code: BPF_JMP | BPF_JEQ | BPF_K, jt: 1, jf: 0, k: index }, // -> 10
    /* 9 */ { code: BPF_RET | BPF_K, jt: 0, jf: 0, k: 0 },
    /* 10 */ { code: BPF_RET | BPF_K, jt: 0, jf: 0, k: ACCEPT },
  ];
}

/** Encodes instructions as the kernel's struct sock_filter array (host byte order). */
export function encodeBpf(program: readonly BpfInstruction[]): Buffer {
  const out = Buffer.alloc(program.length * 8);
  const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  program.forEach(({ code, jt, jf, k }, i) => {
    const at = i * 8;
    if (little) {
      out.writeUInt16LE(code, at);
      out.writeUInt32LE(k >>> 0, at + 4);
    } else {
      out.writeUInt16BE(code, at);
      out.writeUInt32BE(k >>> 0, at + 4);
    }
    out.writeUInt8(jt, at + 2);
    out.writeUInt8(jf, at + 3);
  });
  return out;
}

/**
 * Runs a program on a frame as the kernel's classic BPF interpreter does, for the subset of
 * opcodes used here: the unit tests check the program's decisions with it, the integration
 * test with the kernel. Returns the number of bytes accepted (0: dropped).
 */
export function runBpf(program: readonly BpfInstruction[], frame: Buffer): number {
  let a = 0;
  let x = 0;
  for (let pc = 0; pc < program.length; pc++) {
    const { code, jt, jf, k } = program[pc] as BpfInstruction;
    switch (code) {
      case BPF_LD | BPF_H | BPF_ABS:
        if (k + 2 > frame.length) return 0;
        a = frame.readUInt16BE(k);
        break;
      case BPF_LD | BPF_B | BPF_ABS:
        if (k + 1 > frame.length) return 0;
        a = frame.readUInt8(k);
        break;
      case BPF_ALU | BPF_LSH | BPF_K:
        a = (a << k) >>> 0;
        break;
      case BPF_ALU | BPF_ADD | BPF_X:
        a = (a + x) >>> 0;
        break;
      case BPF_ALU | BPF_MOD | BPF_K:
        a = a % k;
        break;
      case BPF_MISC | BPF_TAX:
        x = a;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        pc += a === k ? jt : jf;
        break;
      case BPF_RET | BPF_K:
        return k;
      default:
        throw new Error(`runBpf: opcode 0x${code.toString(16)} not supported`);
    }
  }
  return 0;
}
