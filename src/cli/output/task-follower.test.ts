import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { after, before, test } from "node:test";
import type { TaskRecord } from "../../cluster/model.js";
import { EtherplaneError, isEtherplaneError } from "../../foundation/errors.js";
import { ApiClient } from "../client/api-client.js";
import { FakeTaskSource, fakeTask, type FakeTaskStep } from "../client/fake-task-source.js";
import { apiTaskSource } from "../client/task-source.js";
import { sendJson, startTestHttpServer, type TestHttpServer } from "../client/test-http-server.js";
import { followTask, type FollowClock } from "./task-follower.js";

const taskId = "task-0000000000aa";

/** Time that moves only when the follower sleeps. */
function fakeClock(): FollowClock & { sleeps: number[] } {
  let nowMs = 1_000_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    nowMs: () => nowMs,
    sleep: (ms) => {
      sleeps.push(ms);
      nowMs += ms;
      return Promise.resolve();
    },
  };
}

function capture(columns?: number): { stream: NodeJS.WritableStream; text: () => string } {
  const stream = Object.assign(new PassThrough(), columns === undefined ? {} : { columns });
  let text = "";
  stream.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
  return { stream, text: () => text };
}

const copying: FakeTaskStep[] = [
  { state: "queued" },
  { state: "running", progress: 0.1, message: "copying 2.0G of 20G" },
  { state: "running", progress: 0.15, message: "copying 2.0G of 20G" },
  { state: "running", progress: 0.45, message: "copying 9.0G of 20G" },
  { state: "running", progress: 0.45, message: "copying 9.0G of 20G" },
  { state: "succeeded", progress: 1, message: "created web-root", result: { id: "vol-1" } },
];

async function follow(
  steps: FakeTaskStep[],
  options: { isTTY: boolean; timeoutMs?: number; columns?: number },
) {
  const source = new FakeTaskSource(steps);
  const output = capture(options.columns);
  const clock = fakeClock();
  const result = await followTask(source, taskId, {
    output: output.stream,
    isTTY: options.isTTY,
    pollMs: 500,
    timeoutMs: options.timeoutMs ?? 60_000,
    clock,
  }).catch((error: unknown) => error);
  return { result, output: output.text(), reads: source.reads, clock };
}

test("not a TTY: a line when the message or the progress decile changes", async () => {
  const { result, output, reads, clock } = await follow(copying, { isTTY: false });
  assert.equal((result as TaskRecord).state, "succeeded");
  assert.deepEqual((result as TaskRecord).result, { id: "vol-1" });
  assert.equal(reads, 6);
  assert.deepEqual(clock.sleeps, [500, 500, 500, 500, 500]);
  assert.equal(
    output,
    "0%  queued\n10%  copying 2.0G of 20G\n45%  copying 9.0G of 20G\n100%  created web-root\n",
  );
});

test("not a TTY: the same message prints again when the decile moves", async () => {
  const { output } = await follow(
    [
      { state: "running", progress: 0.21, message: "copying" },
      { state: "running", progress: 0.29, message: "copying" },
      { state: "running", progress: 0.3, message: "copying" },
      { state: "succeeded", progress: 1, message: "copying" },
    ],
    { isTTY: false },
  );
  assert.equal(output, "21%  copying\n30%  copying\n100%  copying\n");
});

test("TTY: one line redrawn with \\r, only when it changes, ended by a newline", async () => {
  const { output } = await follow(copying, { isTTY: true });
  const clear = "\x1b[K";
  assert.equal(
    output,
    `\r[..........]   0%  queued${clear}` +
      `\r[#.........]  10%  copying 2.0G of 20G${clear}` +
      `\r[##........]  15%  copying 2.0G of 20G${clear}` +
      `\r[#####.....]  45%  copying 9.0G of 20G${clear}` +
      `\r[##########] 100%  created web-root${clear}\n`,
  );
});

test("TTY: the line is cut to the terminal's width so that \\r can redraw it", async () => {
  const { output } = await follow([{ state: "succeeded", message: "x".repeat(100) }], {
    isTTY: true,
    columns: 30,
  });
  assert.equal(output, `\r${"[##########] 100%  xxxxxxxxxx"}\x1b[K\n`);
  assert.equal("[##########] 100%  xxxxxxxxxx".length, 29);
});

test("a failed task throws its code and message, with what to do when the task says", async () => {
  const { result, output } = await follow(
    [
      { state: "running", progress: 0.5, message: "copying" },
      {
        state: "failed",
        progress: 0.5,
        message: "copying",
        error: {
          code: "IO_ERROR",
          message: "write failed: no space left on device",
          hint: "free space in pool p1 or pick another pool",
        } as TaskRecord["error"],
      },
    ],
    { isTTY: true },
  );
  assert.ok(isEtherplaneError(result, "IO_ERROR"));
  assert.equal(
    result.message,
    `task ${taskId} (volume.create) failed: write failed: no space left on device; ` +
      "free space in pool p1 or pick another pool",
  );
  assert.equal(result.params["taskId"], taskId);
  assert.ok(output.endsWith("\n"), "the progress line is ended before the error prints");
});

test("a failure code this CLI does not know becomes REFUSED, the message kept", async () => {
  const { result } = await follow(
    [{ state: "failed", error: { code: "NEWER_CODE", message: "agent said no" } }],
    { isTTY: false },
  );
  assert.ok(isEtherplaneError(result, "REFUSED"));
  assert.equal(result.message, `task ${taskId} (volume.create) failed: agent said no`);
  assert.equal(result.params["remoteCode"], "NEWER_CODE");
});

test("a task that outlives the wait is a TIMEOUT naming the task and how to check it", async () => {
  const { result, reads, output } = await follow(
    [{ state: "running", progress: 0.3, message: "copying 6.0G of 20G" }],
    { isTTY: true, timeoutMs: 2000 },
  );
  assert.ok(isEtherplaneError(result, "TIMEOUT"));
  assert.equal(reads, 5); // at 0, 0.5, 1, 1.5 and 2 s
  assert.equal(
    result.message,
    `task ${taskId} has not ended after 2s (running, 30%: copying 6.0G of 20G); it goes on in ` +
      `the controller: check it later with \`etherplane task show ${taskId}\``,
  );
  assert.ok(output.endsWith("\n"));
});

test("reads that fail as UNAVAILABLE are retried a few times; other errors end at once", async () => {
  const down = new EtherplaneError("UNAVAILABLE", "cannot reach the controller");
  const retried = await follow([down, down, { state: "succeeded" }], { isTTY: false });
  assert.equal((retried.result as TaskRecord).state, "succeeded");
  assert.equal(retried.reads, 3);

  const gone = await follow([new EtherplaneError("NOT_FOUND", "no task")], { isTTY: false });
  assert.ok(isEtherplaneError(gone.result, "NOT_FOUND"));
  assert.equal(gone.reads, 1);

  const stillDown = await follow([down], { isTTY: false });
  assert.equal(stillDown.result, down);
  assert.equal(stillDown.reads, 4);
});

// The same follower over the real wire: ApiClient -> node:http on 127.0.0.1.
let server: TestHttpServer;
const served = new Map<string, TaskRecord[]>();
before(async () => {
  server = await startTestHttpServer((request, response) => {
    const id = decodeURIComponent(request.url.replace("/api/v1/tasks/", ""));
    const script = served.get(id);
    if (request.headers.authorization !== "Bearer ept_test") {
      sendJson(response, 401, { error: { code: "UNAUTHENTICATED", message: "bad token" } });
    } else if (!script) {
      sendJson(response, 404, { error: { code: "NOT_FOUND", message: `no task ${id}` } });
    } else {
      sendJson(response, 200, { task: script.length > 1 ? script.shift() : script[0] });
    }
  });
});
after(() => server.close());

function tasksOverHttp() {
  return apiTaskSource(new ApiClient({ baseUrl: server.url, token: "ept_test", timeoutMs: 2000 }));
}

test("over HTTP: follows a task to success", async () => {
  served.set("t-ok", [
    fakeTask({ id: "t-ok", state: "running", progress: 0.5, message: "half" }),
    fakeTask({ id: "t-ok", state: "succeeded", progress: 1, message: "done" }),
  ]);
  const output = capture();
  const task = await followTask(tasksOverHttp(), "t-ok", {
    output: output.stream,
    isTTY: false,
    pollMs: 10,
    timeoutMs: 5000,
  });
  assert.equal(task.state, "succeeded");
  assert.equal(output.text(), "50%  half\n100%  done\n");
});

test("over HTTP: a failed task, an unknown task and a task that does not end", async () => {
  served.set("t-bad", [
    fakeTask({
      id: "t-bad",
      state: "failed",
      error: { code: "CONFLICT", message: "volume web exists" },
    }),
  ]);
  const options = { output: capture().stream, isTTY: false, pollMs: 10, timeoutMs: 300 };
  await assert.rejects(
    followTask(tasksOverHttp(), "t-bad", options),
    (error) =>
      isEtherplaneError(error, "CONFLICT") &&
      error.message === "task t-bad (volume.create) failed: volume web exists",
  );
  await assert.rejects(
    followTask(tasksOverHttp(), "t-none", options),
    (error) => isEtherplaneError(error, "NOT_FOUND") && error.message === "no task t-none",
  );
  served.set("t-slow", [fakeTask({ id: "t-slow", state: "running" })]);
  const startMs = Date.now();
  await assert.rejects(
    followTask(tasksOverHttp(), "t-slow", options),
    (error) =>
      isEtherplaneError(error, "TIMEOUT") &&
      error.message.includes("`etherplane task show t-slow`"),
  );
  assert.ok(Date.now() - startMs >= 300);
});

test("over HTTP: a reply that is not a task this CLI understands is a PROTOCOL error", async () => {
  served.set("t-odd", [{ ...fakeTask({ id: "t-odd" }), state: "paused" } as unknown as TaskRecord]);
  await assert.rejects(
    tasksOverHttp().getTask("t-odd"),
    (error) =>
      // The reply is checked against the route's schema (replies.ts) before the follower sees it.
      isEtherplaneError(error, "PROTOCOL") &&
      error.params["field"] === "task.state" &&
      /does not understand: task\.state: .*"running"/.test(error.message),
  );
});
