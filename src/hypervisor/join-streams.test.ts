/**
 * joinStreams over real Unix sockets: two socket pairs (a client and the server's accepted
 * socket each, in a temporary folder), the two accepted sockets joined, the clients as the far
 * ends. Half-open everywhere, so that each direction can end on its own.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, before, describe, test } from "node:test";
import { joinStreams } from "./join-streams.js";

const WAIT_MS_MAX = 60_000;

/** Resolves when `probe` holds (polled every 10 ms); fails after a generous deadline. */
async function until(what: string, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS_MAX;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Everything a socket reads, as it arrives, and whether it saw its end and its close. */
function collect(socket: Socket) {
  const seen = { chunks: [] as Buffer[], ended: false, closed: false };
  socket.on("data", (chunk: Buffer) => seen.chunks.push(chunk));
  socket.on("end", () => (seen.ended = true));
  socket.on("close", () => (seen.closed = true));
  socket.on("error", () => undefined); // the far ends see the join's cuts as resets
  return { seen, text: () => Buffer.concat(seen.chunks).toString() };
}

describe("joinStreams", () => {
  let dir: string;
  let server: Server;
  let accepted: Socket[] = [];
  let serial = 0;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "ep-join-streams-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A connected pair: [the client, the server's accepted socket]. */
  async function pair(): Promise<[Socket, Socket]> {
    const path = join(dir, `s${serial++}.sock`);
    accepted = [];
    server = createServer({ allowHalfOpen: true }, (socket) => accepted.push(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, resolve);
    });
    const client = connect({ path, allowHalfOpen: true });
    await until("the connection", () => accepted.length === 1);
    server.close();
    const [peer] = accepted;
    assert.ok(peer);
    return [client, peer];
  }

  /** Far end A, far end B, and how the join between them ended (once it has). */
  async function joined() {
    const [farA, nearA] = await pair();
    const [farB, nearB] = await pair();
    const done: { error?: Error | undefined; called: number } = { called: 0 };
    joinStreams(nearA, nearB, (error) => {
      done.error = error;
      done.called += 1;
    });
    return { farA, farB, nearA, nearB, done };
  }

  test("data both ways; an end in one direction half-closes, the other goes on", async () => {
    const { farA, farB, done } = await joined();
    const atA = collect(farA);
    const atB = collect(farB);
    farA.write("from a\n");
    farB.write("from b\n");
    await until("both ways", () => atB.text() === "from a\n" && atA.text() === "from b\n");
    farA.end("a's tail\n");
    await until("B to see A's end", () => atB.seen.ended);
    assert.equal(atB.text(), "from a\na's tail\n", "the tail flowed before the end");
    assert.equal(atA.seen.ended, false, "B -> A is still open");
    farB.write("answer after the end\n");
    await until("the answer", () => atA.text() === "from b\nanswer after the end\n");
    assert.equal(done.called, 0, "not done while one direction is open");
    farB.end();
    await until("both directions done", () => done.called === 1 && atA.seen.ended);
    assert.equal(done.error, undefined);
    await until("the far ends closed", () => atA.seen.closed && atB.seen.closed);
  });

  for (const side of ["A", "B"] as const) {
    test(`an error on side ${side} destroys both sides and is reported once`, async () => {
      const { farA, farB, nearA, nearB, done } = await joined();
      const atA = collect(farA);
      const atB = collect(farB);
      farA.write("x");
      await until("the first byte", () => atB.text() === "x");
      (side === "A" ? nearA : nearB).destroy(new Error(`boom on ${side}`));
      await until("the report", () => done.called === 1);
      assert.equal(done.error?.message, `boom on ${side}`);
      assert.ok(nearA.destroyed && nearB.destroyed, "both joined sockets destroyed");
      // Half-open far ends see the hang-up as their end (they close once they end too).
      await until("both far ends to see the hang-up", () => atA.seen.ended && atB.seen.ended);
      assert.equal(done.called, 1);
    });
  }

  test("a side closed before its end (a cut, no error) destroys the other", async () => {
    const { farA, farB, nearA, nearB, done } = await joined();
    const atB = collect(farB);
    collect(farA);
    nearA.destroy();
    await until("the report", () => done.called === 1);
    assert.match(done.error?.message ?? "", /closed before its end/);
    assert.ok(nearB.destroyed);
    await until("B's far end to see the hang-up", () => atB.seen.ended);
  });

  test("a child-process-like side (a readable and a writable) joins a socket", async () => {
    const [far, near] = await pair();
    const stdout = new PassThrough();
    const stdin = new PassThrough();
    const atFar = collect(far);
    const done: { error?: Error | undefined; called: number } = { called: 0 };
    joinStreams({ readable: stdout, writable: stdin }, near, (error) => {
      done.error = error;
      done.called += 1;
    });
    const intoChild: Buffer[] = [];
    stdin.on("data", (chunk: Buffer) => intoChild.push(chunk));
    stdout.end("child says hi");
    far.end("to the child");
    await until("both ways and both ends", () => atFar.seen.ended && done.called === 1);
    assert.equal(atFar.text(), "child says hi");
    assert.equal(Buffer.concat(intoChild).toString(), "to the child");
    assert.equal(done.error, undefined);
  });

  test("bounded: a far end that does not read stalls the writer; the join holds little", async () => {
    const { farA, farB, nearA, nearB } = await joined();
    farB.pause();
    const chunk = Buffer.alloc(64 * 1024);
    const total = 16 * 1024 * 1024;
    const sent = createHash("sha256");
    for (let offset = 0; offset < total; offset += chunk.length) {
      chunk.fill(offset / chunk.length);
      sent.update(chunk);
      farA.write(Buffer.from(chunk)); // ignores backpressure: the writer's own buffer holds it
    }
    farA.end();
    // Stalled: the join stopped reading A because B's socket cannot take more.
    await until("the join to stop reading A", () => nearA.isPaused() && nearB.writableNeedDrain);
    const heldByJoin = nearA.readableLength + nearB.writableLength;
    assert.ok(heldByJoin <= 1024 * 1024, `the join holds ${heldByJoin} bytes`);
    assert.ok(
      farA.writableLength >= total - 4 * 1024 * 1024,
      `the writer still holds ${farA.writableLength} of ${total} bytes (the kernel the rest)`,
    );
    // Reading again, every byte arrives, in order.
    const received = createHash("sha256");
    let receivedBytes = 0;
    farB.on("data", (data: Buffer) => {
      received.update(data);
      receivedBytes += data.length;
    });
    const ended = new Promise((resolve) => farB.once("end", resolve));
    farB.resume();
    await ended;
    assert.equal(receivedBytes, total);
    assert.equal(received.digest("hex"), sent.digest("hex"));
    farB.end();
  });
});
