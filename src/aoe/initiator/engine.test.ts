/**
 * The engine's bounds and reply matching, with a FAKE socket that records what is sent and never
 * answers by itself (the simulator tests cover real exchanges: lossy-link.test.ts).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SimClock } from "../../foundation/sim-clock.js";
import type { FramesHandler, RawSocket, RawSocketStats } from "../../net/raw-socket/raw-socket.js";
import { AOE_FLAG_RESPONSE, AOE_TAG, AOE_VER_FLAGS } from "../codec/index.js";
import { InitiatorEngine, newPath, type Exchange } from "./engine.js";
import { IN_FLIGHT_SLOTS_MAX } from "./in-flight-table.js";
import { ataRead } from "./requests.js";

const TARGET_MAC = Buffer.from([0x02, 0, 0, 0, 0, 0x02]);

/** A FAKE RawSocket: keeps sent frames; `deliver` hands frames to the engine as a batch. */
class RecordingSocket implements RawSocket {
  readonly ifname = "fake0";
  readonly mac = Buffer.from([0x02, 0, 0, 0, 0, 0x01]);
  readonly sent: Buffer[] = [];
  private handler: FramesHandler | undefined;
  mtu(): number {
    return 1500;
  }
  onFrames(handler: FramesHandler): void {
    this.handler = handler;
  }
  send(frames: readonly Buffer[]): boolean {
    this.sent.push(...frames);
    return true;
  }
  deliver(frames: Buffer[]): void {
    this.handler?.(frames, new Uint32Array(frames.length));
  }
  stats(): RawSocketStats {
    return { framesReceived: 0, framesSent: this.sent.length, sendDrops: 0, kernelDrops: 0 };
  }
  close(): void {}
}

/** The target's answer to `request`: the same header with the response flag, from TARGET_MAC. */
function replyTo(request: Buffer): Buffer {
  const reply = Buffer.from(request);
  request.copy(reply, 0, 6, 12);
  TARGET_MAC.copy(reply, 6);
  reply[AOE_VER_FLAGS] = (reply[AOE_VER_FLAGS] as number) | AOE_FLAG_RESPONSE;
  reply[27] = 0x40; // ATA status: DRDY
  return reply;
}

function exchange(
  paths: Exchange["paths"],
  replies: Buffer[],
  options: { borrowsReply?: boolean; failures?: unknown[] } = {},
): Exchange {
  return {
    frame: ataRead(1, 0, 0, 1),
    paths,
    deadlineMs: Number.MAX_SAFE_INTEGER,
    borrowsReply: options.borrowsReply ?? false,
    onReply: (frame) => replies.push(frame),
    onFail: (error) => (options.failures ? options.failures.push(error) : assert.fail(error)),
  };
}

void test("more frames than the in-flight table holds wait in the queue instead of failing", () => {
  const socket = new RecordingSocket();
  const engine = new InitiatorEngine([socket], { clock: new SimClock(), firstTag: 5 });
  // Two paths advertising the largest window AoE allows: their sum exceeds the table.
  const paths = [newPath(socket, TARGET_MAC, 65535), newPath(socket, TARGET_MAC, 65535)];
  const total = IN_FLIGHT_SLOTS_MAX + 100;
  const replies: Buffer[] = [];
  const failures: unknown[] = [];
  for (let i = 0; i < total; i++) engine.submit(exchange(paths, replies, { failures }));
  assert.equal(socket.sent.length, IN_FLIGHT_SLOTS_MAX);
  assert.equal(engine.outstanding, total);
  // Replies free slots; the queued frames go out in their place.
  socket.deliver(socket.sent.slice(0, 100).map(replyTo));
  assert.equal(replies.length, 100);
  assert.equal(socket.sent.length, IN_FLIGHT_SLOTS_MAX + 100);
  assert.equal(engine.outstanding, total - 100);
  assert.equal(failures.length, 0);
  engine.close(); // fails what is left, queued or in flight
  assert.equal(failures.length, total - 100);
  assert.equal(engine.outstanding, 0);
});

void test("a reply is a copy unless the exchange borrows it; late replies to earlier tags are stale", () => {
  const socket = new RecordingSocket();
  const engine = new InitiatorEngine([socket], { clock: new SimClock(), firstTag: 9 });
  const paths = [newPath(socket, TARGET_MAC, 8)];
  const kept: Buffer[] = [];
  const borrowed: Buffer[] = [];
  engine.submit(exchange(paths, kept));
  engine.submit(exchange(paths, borrowed, { borrowsReply: true }));
  const [first, second] = socket.sent.map(replyTo) as [Buffer, Buffer];
  socket.deliver([first, second]);
  assert.equal(kept.length, 1);
  assert.notEqual(kept[0], first, "a non-borrowing exchange got the socket's own frame");
  assert.ok(kept[0]?.equals(first));
  assert.equal(borrowed[0], second, "a borrowing exchange got a copy it did not need");

  // The same reply again (a duplicate on the link): its tag's slot is free now, so it is stale.
  const stale = engine.counters.staleReplies;
  socket.deliver([Buffer.from(first)]);
  assert.equal(kept.length, 1);
  assert.equal(engine.counters.staleReplies, stale + 1);
  // A new exchange gets a new tag: the earlier reply, arriving late again, does not match it.
  engine.submit(exchange(paths, kept));
  const reused = socket.sent[2] as Buffer;
  assert.notEqual(reused.readUInt32BE(AOE_TAG), first.readUInt32BE(AOE_TAG));
  assert.notEqual(reused.readUInt32BE(AOE_TAG), second.readUInt32BE(AOE_TAG));
  socket.deliver([Buffer.from(first), Buffer.from(second)]);
  assert.equal(kept.length, 1, "a reply to an earlier tag completed the new exchange");
  assert.equal(borrowed.length, 1);
  assert.equal(engine.counters.staleReplies, stale + 3);
  socket.deliver([replyTo(reused)]);
  assert.equal(kept.length, 2);
  engine.close();
});
