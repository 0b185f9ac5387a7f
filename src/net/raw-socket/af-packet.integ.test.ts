/**
 * The AF_PACKET socket against real veth pairs in two network namespaces. Needs root. The test
 * process stays in its own namespace and holds sockets in both through `netnsPath`.
 */
import assert from "node:assert/strict";
import { readlinkSync } from "node:fs";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { isEtherplaneError } from "../../foundation/errors.js";
import { TestNet, type Namespace } from "../../../test/lab/netns.js";
import { openAfPacketSocket, SEND_QUEUE_FRAMES_MAX, type AfPacketSocket } from "./af-packet.js";
import { AOE_ETHERTYPE } from "../../aoe/codec/header.js";
import type { RawSocketOptions } from "./raw-socket.js";

/** IEEE 802 "local experimental ethertype 2": never used by anything else on a test link. */
const ETHERTYPE_OTHER = 0x88b6;
/** Every ethertype (include/uapi/linux/if_ether.h). */
const ETH_P_ALL = 0x0003;
const ETHERNET_MIN_FRAME_BYTES = 60; // without FCS; shorter frames may arrive padded to this
const WAIT_MS_MAX = 5000;

/** Collects the frames one socket receives. */
class Inbox {
  frames: Buffer[] = [];

  constructor(readonly socket: AfPacketSocket) {
    socket.onFrames((frames) => this.frames.push(...frames));
  }

  /** Waits until at least `count` frames that `match` are in, then returns those and clears. */
  async take(count: number, match: (frame: Buffer) => boolean = () => true): Promise<Buffer[]> {
    const deadline = Date.now() + WAIT_MS_MAX;
    let matching = this.frames.filter(match);
    while (matching.length < count) {
      if (Date.now() > deadline) {
        assert.fail(`${this.socket.ifname}: ${matching.length} of ${count} frames arrived`);
      }
      await sleep(5);
      matching = this.frames.filter(match);
    }
    this.frames = [];
    return matching;
  }
}

function frame(dst: Buffer, src: Buffer, ethertype: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(14);
  dst.copy(header, 0);
  src.copy(header, 6);
  header.writeUInt16BE(ethertype, 12);
  return Buffer.concat([header, payload]);
}

/** A payload of `bytes` bytes that differs for every `seed`. */
function payload(seed: number, bytes: number): Buffer {
  const data = Buffer.alloc(bytes);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = x & 0xff;
  }
  if (bytes >= 2) data.writeUInt16BE(seed, 0);
  return data;
}

/** Matches the frames whose payload was made by `payload(seed)` for seed in [first, first+count). */
function seedIn(first: number, count: number): (frame: Buffer) => boolean {
  return (frame) => {
    if (frame.length < 16) return false;
    const seed = frame.readUInt16BE(14);
    return seed >= first && seed < first + count;
  };
}

/** `received` is `sent`, possibly padded to the Ethernet minimum. */
function assertSameFrame(received: Buffer | undefined, sent: Buffer, what: string): void {
  assert.ok(received, `${what}: missing`);
  if (received.length !== sent.length) {
    assert.ok(
      sent.length < ETHERNET_MIN_FRAME_BYTES && received.length <= ETHERNET_MIN_FRAME_BYTES,
      `${what}: sent ${sent.length} bytes, received ${received.length}`,
    );
  }
  assert.ok(received.subarray(0, sent.length).equals(sent), `${what}: bytes differ`);
}

function processNetns(): string {
  return readlinkSync("/proc/thread-self/ns/net");
}

const net = new TestNet("afp");
const sockets: AfPacketSocket[] = [];
let nsA: Namespace;
let nsB: Namespace;
let netnsBefore: string;
// AoE sockets on both ends, and a socket for another ethertype on each end.
let aoeA: Inbox;
let aoeB: Inbox;
let otherA: Inbox;
let otherB: Inbox;

function open(
  ns: Namespace,
  ifname: string,
  ethertype: number,
  options: Partial<RawSocketOptions> = {},
): Inbox {
  const socket = openAfPacketSocket({ ifname, ethertype, netnsPath: ns.path, ...options });
  sockets.push(socket);
  return new Inbox(socket);
}

before(async () => {
  netnsBefore = processNetns();
  nsA = await net.namespace("a");
  nsB = await net.namespace("b");
  await net.link(nsA, "afpa", nsB, "afpb");
  aoeA = open(nsA, "afpa", AOE_ETHERTYPE);
  // 64 MiB: the queue test's burst of 4,096 full frames (about 11 MiB of kernel memory) fits
  // even when this process gets no CPU for the whole burst (a loaded machine); the default
  // 4 MiB holds about 1,500, and the rest would be dropped before the test reads them.
  aoeB = open(nsB, "afpb", AOE_ETHERTYPE, { receiveBufferBytes: 64 * 1024 * 1024 });
  otherA = open(nsA, "afpa", ETHERTYPE_OTHER);
  otherB = open(nsB, "afpb", ETHERTYPE_OTHER);
});

after(async () => {
  for (const socket of sockets) socket.close();
  await net.close();
});

void test("sockets open inside their namespaces and leave the process in its own", async () => {
  assert.equal(processNetns(), netnsBefore);
  assert.notEqual(aoeA.socket.mac.toString("hex"), aoeB.socket.mac.toString("hex"));
  for (const [inbox, ns] of [
    [aoeA, nsA],
    [aoeB, nsB],
  ] as const) {
    const mac = [...inbox.socket.mac].map((byte) => byte.toString(16).padStart(2, "0")).join(":");
    assert.equal(mac, await ns.mac(inbox.socket.ifname));
    assert.equal(inbox.socket.mtu(), 1500);
  }
});

void test("200 frames sent in one turn arrive in order with their exact bytes", async () => {
  const { mac: macA } = aoeA.socket;
  const { mac: macB } = aoeB.socket;
  // Payload sizes from 1 byte (a 15-byte frame, below the Ethernet minimum) to 1500 (the MTU).
  const sent = Array.from({ length: 200 }, (_, i) =>
    frame(macB, macA, AOE_ETHERTYPE, payload(i, i === 199 ? 1500 : 1 + ((i * 97) % 1400))),
  );
  const sentBefore = aoeA.socket.stats().framesSent;
  const receivedBefore = aoeB.socket.stats().framesReceived;

  assert.equal(aoeA.socket.send(sent.slice(0, 120)), true);
  assert.equal(aoeA.socket.send(sent.slice(120)), true);
  // Frame 0's 1-byte payload is too short to carry its seed.
  const received = await aoeB.take(200, (f) => f.length < 16 || seedIn(0, 200)(f));

  assert.equal(received.length, 200);
  sent.forEach((frame, i) => assertSameFrame(received[i], frame, `frame ${i}`));
  assert.equal(aoeA.socket.stats().framesSent - sentBefore, 200);
  assert.equal(aoeB.socket.stats().framesReceived - receivedBefore, 200);
  assert.equal(aoeB.socket.stats().kernelDrops, 0);
});

void test("a socket receives only its own ethertype", async () => {
  const { mac: macA } = aoeA.socket;
  const { mac: macB } = aoeB.socket;
  const others = Array.from({ length: 5 }, (_, i) =>
    frame(macB, macA, ETHERTYPE_OTHER, payload(1000 + i, 46)),
  );
  const marker = frame(macB, macA, AOE_ETHERTYPE, payload(2000, 46));
  assert.equal(otherA.socket.send(others), true);
  await otherB.take(5, seedIn(1000, 5)); // sent first: delivered (or not) before the marker
  assert.equal(aoeA.socket.send([marker]), true);

  const isOther = (f: Buffer): boolean => f.readUInt16BE(12) === ETHERTYPE_OTHER;
  const aoe = await aoeB.take(1, (f) => seedIn(2000, 1)(f) || isOther(f));
  assert.equal(aoe.length, 1, "the AoE socket received frames of another ethertype");
  assertSameFrame(aoe[0], marker, "marker");
  assert.ok(!otherB.frames.some(seedIn(2000, 1)), "the other-ethertype socket got the AoE marker");
});

void test("a socket never sees the frames its own host sends", async () => {
  const { mac: macA } = aoeA.socket;
  const { mac: macB } = aoeB.socket;
  // Only ETH_P_ALL sockets are shown outgoing frames at all (dev_queue_xmit_nit(),
  // net/core/dev.c); PACKET_IGNORE_OUTGOING must hide them there too.
  const allA = open(nsA, "afpa", ETH_P_ALL);
  try {
    const outgoing = Array.from({ length: 10 }, (_, i) =>
      frame(macB, macA, AOE_ETHERTYPE, payload(3000 + i, 100)),
    );
    assert.equal(aoeA.socket.send(outgoing), true);
    assert.equal((await aoeB.take(10, seedIn(3000, 10))).length, 10);
    // A's own copies would have been queued to it while sending, before B's reply arrives.
    const reply = frame(macA, macB, AOE_ETHERTYPE, payload(4000, 100));
    assert.equal(aoeB.socket.send([reply]), true);
    const atA = await aoeA.take(1, (f) => seedIn(3000, 10)(f) || seedIn(4000, 1)(f));
    assert.equal(atA.length, 1, "socket A received its own outgoing frames");
    assertSameFrame(atA[0], reply, "reply");
    assert.ok(!aoeB.frames.some(seedIn(4000, 1)), "socket B received its own reply");
    // The ETH_P_ALL socket also sees whatever else the kernel sends (IPv6 neighbour discovery):
    // keep the AoE frames.
    const allAoe = await allA.take(
      1,
      (f) => f.readUInt16BE(12) === AOE_ETHERTYPE && seedIn(4000, 1)(f),
    );
    assert.equal(allAoe.length, 1, "the ETH_P_ALL socket received its host's outgoing frames");
    assertSameFrame(allAoe[0], reply, "reply at the ETH_P_ALL socket");
  } finally {
    allA.socket.close();
  }
});

void test("frames beyond a full receive buffer are counted as kernel drops", async () => {
  const { mac: macA } = aoeA.socket;
  const { mac: macB } = aoeB.socket;
  // 200 full frames need about 450 KiB of receive buffer (truesize); this one holds ~128 KiB.
  // It is not read until the kernel has offered it all 200 (it starts polling only with
  // onFrames): a frame is handed to every packet socket of its ethertype in one pass, so once
  // B's default socket has all 200, the small one was offered all 200 too.
  const small = openAfPacketSocket({
    ifname: "afpb",
    ethertype: AOE_ETHERTYPE,
    netnsPath: nsB.path,
    receiveBufferBytes: 64 * 1024,
  });
  try {
    const sent = Array.from({ length: 200 }, (_, i) =>
      frame(macB, macA, AOE_ETHERTYPE, payload(7000 + i, 1500)),
    );
    assert.equal(aoeA.socket.send(sent), true);
    assert.equal((await aoeB.take(200, seedIn(7000, 200))).length, 200); // 4 MiB took them all
    const dropped = small.stats().kernelDrops;
    assert.ok(dropped > 0, "no kernel drops with a 64 KiB receive buffer");
    const kept = new Inbox(small);
    const received = await kept.take(200 - dropped);
    assert.equal(received.length + dropped, 200);
    // The frames that made it are the first ones, in order.
    received.forEach((frame, i) => assertSameFrame(frame, sent[i] as Buffer, `frame ${i}`));
  } finally {
    small.close();
  }
});

void test("frames the kernel cannot take yet stay queued and go out in order", async () => {
  const { mac: macB } = aoeB.socket;
  // A token bucket on A's side holds frames back. With a deep queue the socket's small send
  // buffer fills up (EAGAIN: wait for poll to report it writable); with a shallow queue the qdisc
  // drops (ENOBUFS: retry on a timer). The rates are far below what one sendmmsg(2) pushes, so
  // the first flush stops early whatever the machine's load.
  const cases = [
    { limit: "16mb", rate: "200mbit", count: SEND_QUEUE_FRAMES_MAX, seed: 10_000 },
    { limit: "30kb", rate: "20mbit", count: 300, seed: 20_000 },
  ];
  const sender = openAfPacketSocket({
    ifname: "afpa",
    ethertype: AOE_ETHERTYPE,
    netnsPath: nsA.path,
    sendBufferBytes: 64 * 1024,
  });
  try {
    for (const { limit, rate, count, seed } of cases) {
      const tbf = ["rate", rate, "burst", "64kb", "limit", limit];
      await nsA.exec("tc", ["qdisc", "replace", "dev", "afpa", "root", "tbf", ...tbf]);
      const sent = Array.from({ length: count }, (_, i) =>
        frame(macB, sender.mac, AOE_ETHERTYPE, payload(seed + i, 1500)),
      );
      const before = sender.stats();
      assert.equal(sender.send(sent), true);
      await new Promise((resolve) => setImmediate(resolve)); // after the first flush
      const firstFlush = sender.stats().framesSent - before.framesSent;
      assert.ok(firstFlush < count, `limit ${limit}: the kernel took all ${count} frames at once`);

      const received = await aoeB.take(count, seedIn(seed, count));
      assert.equal(received.length, count);
      sent.forEach((frame, i) => assertSameFrame(received[i], frame, `limit ${limit} frame ${i}`));
      const after = sender.stats();
      assert.equal(after.framesSent - before.framesSent, count);
      assert.equal(after.sendErrors, before.sendErrors);
      assert.equal(after.sendDrops, before.sendDrops);
    }
  } finally {
    sender.close();
    await nsA.exec("tc", ["qdisc", "del", "dev", "afpa", "root"]);
  }
});

void test("a socket keeps working after its interface goes down and up", async () => {
  const { mac: macA } = aoeA.socket;
  const { mac: macB } = aoeB.socket;
  const errorsBefore = aoeB.socket.stats().receiveErrors;
  await nsB.exec("ip", ["link", "set", "afpb", "down"]);
  await nsB.exec("ip", ["link", "set", "afpb", "up"]);
  const after = frame(macB, macA, AOE_ETHERTYPE, payload(5000, 64));
  const isAfter = seedIn(5000, 1);
  // The peer may report no carrier for a moment after `up`: resend until one arrives.
  const deadline = Date.now() + WAIT_MS_MAX;
  while (!aoeB.frames.some(isAfter) && Date.now() < deadline) {
    aoeA.socket.send([after]);
    await sleep(20);
  }
  assertSameFrame((await aoeB.take(1, isAfter))[0], after, "frame after down/up");
  // The kernel reported the interface going down (ENETDOWN) as a socket error.
  const stats = aoeB.socket.stats();
  assert.ok(stats.receiveErrors > errorsBefore, "ENETDOWN was not seen");
  assert.equal(stats.lastError, "ENETDOWN");
});

void test("mtu() follows the interface, and jumbo frames pass at MTU 9000", async () => {
  const { mac: macA } = aoeA.socket;
  const { mac: macB } = aoeB.socket;
  const jumbo = frame(macB, macA, AOE_ETHERTYPE, payload(6000, 9000));
  assert.equal(jumbo.length, 9014);

  // At MTU 1500 the kernel refuses it (EMSGSIZE); the frame is dropped and the queue moves on.
  assert.equal(aoeA.socket.mtu(), 1500);
  const errorsBefore = aoeA.socket.stats().sendErrors;
  const small = frame(macB, macA, AOE_ETHERTYPE, payload(6001, 100));
  assert.equal(aoeA.socket.send([jumbo, small]), true);
  assertSameFrame((await aoeB.take(1, seedIn(6001, 1)))[0], small, "frame after the refused one");
  assert.equal(aoeA.socket.stats().sendErrors, errorsBefore + 1);
  assert.equal(aoeA.socket.stats().lastError, "EMSGSIZE");

  await nsA.setMtu("afpa", 9000);
  await nsB.setMtu("afpb", 9000);
  assert.equal(aoeA.socket.mtu(), 9000);
  assert.equal(aoeB.socket.mtu(), 9000);
  assert.equal(aoeA.socket.send([jumbo]), true);
  const received = await aoeB.take(1, seedIn(6000, 1));
  assert.equal(received.length, 1);
  assert.equal(received[0]?.length, 9014);
  assertSameFrame(received[0], jumbo, "jumbo frame");
  assert.equal(aoeB.socket.stats().truncatedDrops, 0);
});

void test("opening a missing interface or namespace fails clearly", () => {
  assert.throws(
    () => openAfPacketSocket({ ifname: "nosuch0", ethertype: AOE_ETHERTYPE, netnsPath: nsA.path }),
    (error: unknown) =>
      isEtherplaneError(error, "NOT_FOUND") &&
      /interface nosuch0 not found/.test(error.message) &&
      /ENODEV/.test(error.message),
  );
  // afpb exists only in namespace B.
  assert.throws(
    () => openAfPacketSocket({ ifname: "afpb", ethertype: AOE_ETHERTYPE, netnsPath: nsA.path }),
    (error: unknown) => isEtherplaneError(error, "NOT_FOUND") && /afpb/.test(error.message),
  );
  assert.throws(
    () =>
      openAfPacketSocket({
        ifname: "afpa",
        ethertype: AOE_ETHERTYPE,
        netnsPath: "/var/run/netns/ept-afp-missing",
      }),
    (error: unknown) =>
      isEtherplaneError(error, "NOT_FOUND") && /ept-afp-missing.*ENOENT/.test(error.message),
  );
  // Failures inside another namespace still return the thread to its own.
  assert.equal(processNetns(), netnsBefore);
});

void test("options are validated before any socket is made", () => {
  const bad = [
    { ifname: "afpa", ethertype: 0x10000 },
    { ifname: "afpa", ethertype: -1 },
    { ifname: "afpa", ethertype: 1.5 },
    { ifname: "", ethertype: AOE_ETHERTYPE },
    { ifname: "a-sixteen-chars!", ethertype: AOE_ETHERTYPE },
    { ifname: "afpa", ethertype: AOE_ETHERTYPE, receiveBatchFrames: 0 },
    { ifname: "afpa", ethertype: AOE_ETHERTYPE, receiveBufferBytes: 1 },
  ];
  for (const options of bad) {
    assert.throws(
      () => openAfPacketSocket({ ...options, netnsPath: nsA.path }),
      (error: unknown) => isEtherplaneError(error, "INVALID_ARGUMENT"),
      JSON.stringify(options),
    );
  }
});

void test("the send queue is bounded and close() is final", async () => {
  const socket = openAfPacketSocket({
    ifname: "afpa",
    ethertype: AOE_ETHERTYPE,
    netnsPath: nsA.path,
  });
  try {
    const { mac } = socket;
    const tooMany = Array.from({ length: SEND_QUEUE_FRAMES_MAX + 1 }, () =>
      frame(mac, mac, AOE_ETHERTYPE, Buffer.alloc(46)),
    );
    assert.equal(socket.send(tooMany), false);
    assert.equal(socket.stats().sendDrops, SEND_QUEUE_FRAMES_MAX + 1);
    await sleep(20);
    assert.equal(socket.stats().framesSent, 0, "frames of a refused call were sent");
  } finally {
    socket.close();
  }
  socket.close();
  assert.equal(socket.send([Buffer.alloc(60)]), false);
  assert.equal(socket.stats().sendDrops, SEND_QUEUE_FRAMES_MAX + 2);
  assert.throws(
    () => socket.mtu(),
    (error: unknown) => isEtherplaneError(error, "CLOSED"),
  );
});

void test("a worker thread that ends with sockets open or closing takes them down cleanly", async () => {
  // `aoe serve --workers` opens sockets in worker threads. A thread that is terminated or dies
  // must close them and let its loop finish the closes, not crash the process (it did: libuv
  // handles still open when the thread's loop was destroyed). Run in a child process, so that a
  // crash fails this test rather than the test runner.
  const addonModule = new URL("./af-packet.js", import.meta.url).href;
  const script = `
    import { Worker } from "node:worker_threads";
    const body = (close) => \`
      import { parentPort } from "node:worker_threads";
      const { openAfPacketSocket } = await import(${JSON.stringify(addonModule)});
      const socket = openAfPacketSocket({ ifname: "afpa", ethertype: ${ETHERTYPE_OTHER}, netnsPath: ${JSON.stringify(nsA.path)} });
      socket.onFrames(() => undefined);
      if (\${close}) socket.close();
      parentPort.postMessage("open");
    \`;
    for (const close of [false, true]) {
      const worker = new Worker(new URL("data:text/javascript," + encodeURIComponent(body(close))));
      await new Promise((resolve, reject) => { worker.once("message", resolve); worker.once("error", reject); });
      await worker.terminate();
    }
    process.stdout.write("both terminated\\n");
  `;
  const { spawn } = await import("node:child_process");
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: "pipe" });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once("exit", (c, s) => resolve([c, s])),
  );
  assert.equal(signal, null, `the process died of ${signal}: ${output}`);
  assert.equal(code, 0, output);
  assert.match(output, /both terminated/);
});

void test("reuseReceiveBuffer: every batch arrives in the same memory, each frame intact during its call", async () => {
  // IEEE 802 "local experimental ethertype 1": its own sockets, so no other test sees these.
  const ethertype = 0x88b5;
  const sender = open(nsA, "afpa", ethertype).socket;
  const opened = (reuseReceiveBuffer: boolean) => {
    const socket = openAfPacketSocket({
      ifname: "afpb",
      ethertype,
      netnsPath: nsB.path,
      reuseReceiveBuffer,
    });
    sockets.push(socket);
    // What the handler saw during its call (copies), and the views it was handed (kept).
    const seen = { copies: [] as Buffer[], views: [] as Buffer[] };
    socket.onFrames((frames) => {
      for (const f of frames) {
        seen.copies.push(Buffer.from(f));
        seen.views.push(f);
      }
    });
    return seen;
  };
  const reused = opened(true);
  const fresh = opened(false);
  const macB = aoeB.socket.mac; // the same interface as the two sockets
  const deadline = Date.now() + WAIT_MS_MAX;
  for (let i = 0; i < 2; i++) {
    // One frame per batch: the next is sent once both sockets have the previous one.
    assert.equal(sender.send([frame(macB, sender.mac, ethertype, payload(3000 + i, 100))]), true);
    while (reused.copies.length <= i || fresh.copies.length <= i) {
      assert.ok(Date.now() < deadline, `batch ${i} did not arrive in ${WAIT_MS_MAX} ms`);
      await sleep(5);
    }
  }
  for (const seen of [reused, fresh]) {
    seen.copies.forEach((copy, i) => assert.equal(copy.readUInt16BE(14), 3000 + i, `frame ${i}`));
  }
  const [first, second] = reused.views as [Buffer, Buffer];
  assert.equal(first.buffer, second.buffer, "the reusing socket received into a new buffer");
  assert.equal(first.readUInt16BE(14), 3001, "the first batch's memory holds the second batch");
  const [kept] = fresh.views as [Buffer, Buffer];
  assert.equal(
    kept.readUInt16BE(14),
    3000,
    "a socket without reuse overwrote a frame it handed out",
  );
  assert.notEqual(kept.buffer, fresh.views[1]?.buffer);
});
