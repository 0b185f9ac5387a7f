/**
 * The contract every RawSocket keeps (raw-socket.ts), as node:test cases that each
 * implementation's test file runs against its own setup (STYLE.md habit 3): the AF_PACKET socket
 * over a veth pair in namespaces (raw-socket.contract.integ.test.ts), and the simulated segment and
 * the lossy wrapper (raw-socket.contract.test.ts). Each case gets a fresh pair, so no case sees
 * what another left behind, and waits for conditions with a generous deadline (never for a fixed
 * time). The last case checks that every case ran.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { AOE_ETHERTYPE } from "../../aoe/codec/header.js";
import type { RawSocket } from "./raw-socket.js";

export interface RawSocketPair {
  /** Two sockets bound to the AoE ethertype on one link (a and b see each other's frames). */
  a: RawSocket;
  b: RawSocket;
  /** Resolves when `condition()` holds; rejects naming `what` after a generous deadline. */
  waitFor(what: string, condition: () => boolean): Promise<void>;
  /** Closes both sockets and whatever the setup made (links, namespaces). */
  close(): Promise<void>;
}

const BROADCAST = Buffer.alloc(6, 0xff);
/** IEEE 802 local experimental ethertype 1: nobody's protocol. */
const ETHERTYPE_OTHER = 0x88b5;
const ETHERNET_HEADER_BYTES = 14;

/** A frame from `from` to `dst` of `bytes` bytes, numbered `n` (at byte 14), of `ethertype`. */
function frame(from: RawSocket, dst: Buffer, n: number, bytes = 64, ethertype = AOE_ETHERTYPE) {
  const f = Buffer.alloc(bytes);
  dst.copy(f, 0);
  from.mac.copy(f, 6);
  f.writeUInt16BE(ethertype, 12);
  f.writeUInt32BE(n, 14);
  for (let i = 18; i < bytes; i++) f[i] = (i * 7 + n) & 0xff;
  return f;
}

/** Frames received by `socket`, kept as handed over (no copies: they must stay valid). */
function collect(socket: RawSocket): Buffer[] {
  const frames: Buffer[] = [];
  socket.onFrames((batch) => frames.push(...batch));
  return frames;
}

const numbered = (frames: readonly Buffer[]) => frames.map((f) => f.readUInt32BE(14));

export function rawSocketContract(name: string, open: () => Promise<RawSocketPair>): void {
  void describe(`RawSocket contract: ${name}`, () => {
    let ran = 0;
    const CASES = 8;
    const withPair = async (body: (pair: RawSocketPair) => Promise<void> | void) => {
      const pair = await open();
      try {
        await body(pair);
        ran++;
      } finally {
        await pair.close();
      }
    };
    /** Sends a marker a→b and waits for it: frames sent before it had their chance to arrive. */
    const flushed = async (pair: RawSocketPair, received: Buffer[], marker: number) => {
      pair.a.send([frame(pair.a, pair.b.mac, marker)]);
      await pair.waitFor(`marker ${marker}`, () => numbered(received).includes(marker));
    };

    it("names its interface, has a unicast MAC and a sane MTU", () =>
      withPair(({ a, b }) => {
        for (const socket of [a, b]) {
          assert.ok(socket.ifname.length > 0 && socket.ifname.length <= 15, socket.ifname);
          assert.equal(socket.mac.length, 6);
          assert.equal((socket.mac[0] as number) & 1, 0, "unicast MAC");
          const mtu = socket.mtu();
          assert.ok(Number.isInteger(mtu) && mtu >= 68 && mtu <= 65535, `MTU ${mtu}`);
        }
        assert.ok(!a.mac.equals(b.mac), "two interfaces, two MACs");
      }));

    it("frames arrive byte for byte and in order: short, full-MTU, and a batch of 200", () =>
      withPair(async (pair) => {
        const { a, b } = pair;
        const received = collect(b);
        const full = ETHERNET_HEADER_BYTES + a.mtu();
        const sent = [
          frame(a, b.mac, 1, 24), // shorter than the 60-byte Ethernet minimum: not padded
          frame(a, b.mac, 2, full),
          ...Array.from({ length: 200 }, (_, i) => frame(a, b.mac, 3 + i, 64 + i)),
        ];
        assert.equal(a.send(sent), true);
        await pair.waitFor("202 frames", () => received.length >= sent.length);
        assert.deepEqual(numbered(received), numbered(sent), "in order, none twice");
        for (let i = 0; i < sent.length; i++)
          assert.ok((received[i] as Buffer).equals(sent[i] as Buffer), `frame ${i} intact`);
        await pair.waitFor("counters", () => b.stats().framesReceived >= sent.length);
        assert.ok(a.stats().framesSent >= sent.length, "sent frames are counted");
      }));

    it("a broadcast frame arrives; frames of another ethertype do not", () =>
      withPair(async (pair) => {
        const { a, b } = pair;
        const received = collect(b);
        a.send([
          frame(a, b.mac, 10, 64, ETHERTYPE_OTHER),
          frame(a, BROADCAST, 11),
          frame(a, BROADCAST, 12, 64, ETHERTYPE_OTHER),
        ]);
        await flushed(pair, received, 13);
        assert.deepEqual(numbered(received), [11, 13]);
      }));

    it("received frames stay valid after the handler returns and more frames arrive", () =>
      withPair(async (pair) => {
        const { a, b } = pair;
        const received = collect(b);
        const first = frame(a, b.mac, 20, 300);
        a.send([first]);
        await pair.waitFor("the first frame", () => received.length >= 1);
        const kept = received[0] as Buffer;
        for (let round = 0; round < 5; round++)
          a.send(Array.from({ length: 50 }, (_, i) => frame(a, b.mac, 100 + round * 50 + i, 300)));
        await pair.waitFor("250 more frames", () => received.length >= 251);
        assert.ok(kept.equals(first), "the first frame's bytes are unchanged");
      }));

    it("a frame longer than the MTU allows does not arrive, and the socket keeps working", () =>
      withPair(async (pair) => {
        const { a, b } = pair;
        const received = collect(b);
        a.send([frame(a, b.mac, 30, ETHERNET_HEADER_BYTES + a.mtu() + 100)]);
        await flushed(pair, received, 31);
        assert.deepEqual(numbered(received), [31]);
      }));

    it("both directions work at once", () =>
      withPair(async (pair) => {
        const { a, b } = pair;
        const atA = collect(a);
        const atB = collect(b);
        a.send([frame(a, b.mac, 40)]);
        b.send([frame(b, a.mac, 41)]);
        await pair.waitFor("a frame each way", () => atA.length >= 1 && atB.length >= 1);
        assert.deepEqual([numbered(atA), numbered(atB)], [[41], [40]]);
      }));

    it("one handler per socket", () =>
      withPair(({ b }) => {
        collect(b);
        assert.throws(
          () => b.onFrames(() => undefined),
          (e) => isEtherplaneError(e, "INVALID_ARGUMENT"),
        );
      }));

    it("after close: send is refused and counted, mtu() is CLOSED, stats stay readable", () =>
      withPair(({ a, b }) => {
        const received = collect(b);
        a.close();
        a.close(); // idempotent
        assert.equal(a.send([frame(a, b.mac, 50)]), false);
        assert.ok(a.stats().sendDrops >= 1, "counted in sendDrops");
        assert.throws(
          () => a.mtu(),
          (e) => isEtherplaneError(e, "CLOSED"),
        );
        assert.equal(numbered(received).includes(50), false, "the refused frame never arrives");
      }));

    it("every case ran", () => {
      assert.equal(ran, CASES, `${ran} of ${CASES} cases completed`);
    });
  });
}
