/**
 * ApiClient.stream (the event stream `events --follow` reads) ends when its caller aborts, and
 * the connection closes, whatever the stream was doing: idle after a garbage collection, half a
 * message read, no headers yet, or its reader busy elsewhere. A real node:http server on
 * 127.0.0.1 sees the socket close. A stream that did not end fails its deadline, not the file.
 */
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { after, before, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { ApiClient } from "./api-client.js";
import { startTestHttpServer, type TestHttpServer } from "./test-http-server.js";

// The collector, without starting node with --expose-gc: undici follows the caller's signal
// through a WeakRef, and a collection between the headers and the abort is what lost it.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const token = "ept_stream-test-token";
/** Generous: a loaded 2-core machine may be slow, but a stream that hangs never ends. */
const DEADLINE_MS = 60_000;

let answer: (response: ServerResponse) => void = () => undefined;
/** Resolves when the server sees the latest stream's connection close. */
let closed: Promise<void> = Promise.resolve();
let server: TestHttpServer;
before(async () => {
  server = await startTestHttpServer((_request, response) => {
    closed = new Promise((resolve) => response.on("close", resolve));
    answer(response);
  });
});
after(() => server.close());

const client = () => new ApiClient({ baseUrl: server.url, token, timeoutMs: DEADLINE_MS });

async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: not within ${DEADLINE_MS} ms`)),
      DEADLINE_MS,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

function sse(response: ServerResponse, text: string): void {
  response.writeHead(200, { "content-type": "text/event-stream" });
  response.write(text);
}

/** Reads the stream, calling `onChunk` after each chunk; resolves with the text when it ends. */
async function read(
  stop: AbortController,
  onChunk: (chunks: string[]) => Promise<void> | void,
): Promise<string> {
  const chunks: string[] = [];
  for await (const chunk of client().stream("/api/v1/events", stop.signal)) {
    chunks.push(chunk);
    await onChunk(chunks);
  }
  return chunks.join("");
}

async function collect(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

test("an idle stream ends on abort after a garbage collection, and its socket closes", async () => {
  answer = (response) => sse(response, "event: hello\ndata: {}\n\n");
  const stop = new AbortController();
  const text = await within(
    read(stop, async () => {
      await collect();
      stop.abort();
    }),
    "the stream's end after abort",
  );
  assert.match(text, /event: hello/);
  await within(closed, "the server seeing the connection close");
});

test("a stream ends on abort with half a message read, and its socket closes", async () => {
  answer = (response) => sse(response, 'event: change\ndata: {"topics": ["ev');
  const stop = new AbortController();
  const text = await within(
    read(stop, async (chunks) => {
      if (!chunks.join("").includes('"ev')) return;
      await collect();
      stop.abort();
    }),
    "the stream's end after abort",
  );
  assert.match(text, /data: \{"topics"/);
  await within(closed, "the server seeing the connection close");
});

test("an abort while the reader is busy elsewhere ends the stream at its next read", async () => {
  answer = (response) => sse(response, "event: hello\ndata: {}\n\n");
  const stop = new AbortController();
  const text = await within(
    read(stop, async () => {
      // As `events --follow` does: a catch-up call runs while the signal aborts.
      stop.abort();
      await collect();
    }),
    "the stream's end after abort",
  );
  assert.match(text, /event: hello/);
  await within(closed, "the server seeing the connection close");
});

test("an abort before the headers ends the stream quietly, and its socket closes", async () => {
  let asked!: () => void;
  const requested = new Promise<void>((resolve) => (asked = resolve));
  answer = () => asked(); // never answers
  const stop = new AbortController();
  const reading = read(stop, () => assert.fail("no chunk was sent"));
  await within(requested, "the request reaching the server");
  await collect();
  stop.abort();
  assert.equal(await within(reading, "the stream's end after abort"), "");
  await within(closed, "the server seeing the connection close");
});
