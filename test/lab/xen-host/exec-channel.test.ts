/**
 * The exec channel's codec, and dom0's exec server run for real by busybox sh on this machine
 * (stdin and stdout standing in for the virtio port, busybox applets first on PATH as in dom0).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { busyboxApplets } from "../linux-guest/initramfs.js";
import {
  encodeExecRequest,
  execScriptBytesMax,
  execServerScript,
  parseExecResponse,
  responseLineCharsMax,
  type ExecResponse,
} from "./exec-channel.js";

const b64 = (text: string) => Buffer.from(text).toString("base64");

void test("a request is one line: id, timeout, the script in base64", () => {
  const line = encodeExecRequest(7, "xl list\necho 'ü'\n", 30);
  assert.equal(line, `X 7 30 ${b64("xl list\necho 'ü'\n")}\n`);
  assert.equal(line.indexOf("\n"), line.length - 1);
});

void test("requests out of bounds are refused", () => {
  assert.throws(() => encodeExecRequest(-1, "true", 1), /exec id/);
  assert.throws(() => encodeExecRequest(1.5, "true", 1), /exec id/);
  assert.throws(() => encodeExecRequest(1, "true", 0), /timeout/);
  assert.throws(() => encodeExecRequest(1, "true", 3601), /timeout/);
  assert.throws(() => encodeExecRequest(1, "x".repeat(execScriptBytesMax + 1), 1), /over/);
});

void test("a response carries the id, exit code and both streams, empty ones too", () => {
  assert.deepEqual(parseExecResponse(`R 12 3 ${b64("out\n")} ${b64("err")}`), {
    id: 12,
    code: 3,
    stdout: Buffer.from("out\n"),
    stderr: Buffer.from("err"),
  } satisfies ExecResponse);
  const empty = parseExecResponse("R 1 0  ");
  assert.equal(empty?.stdout.length, 0);
  assert.equal(empty?.stderr.length, 0);
});

void test("lines that are not responses are not read as ones", () => {
  for (const line of [
    "",
    "R",
    "R 1 0",
    "R 1 0 AAAA",
    "X 1 5 AAAA",
    "R x 0  ",
    "R 1 256  ",
    "R 1 -1  ",
    "R 1 0 AA!A ",
    "R 1 0 AAAA AAAA extra",
    " R 1 0  ",
    "R 1234567890123456 0  ",
  ]) {
    assert.equal(parseExecResponse(line), undefined, JSON.stringify(line));
  }
});

void test("the longest response line fits the reader's bound", () => {
  const cap = 3000;
  const data = Buffer.alloc(cap, 0xff).toString("base64");
  assert.ok(`R 999999 255 ${data} ${data}`.length <= responseLineCharsMax(cap));
});

const noBusybox = existsSync("/bin/busybox") ? false : "needs /bin/busybox (busybox-static)";

void describe("dom0's exec server under busybox sh", { skip: noBusybox }, () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ep-exec-server-"));
    // dom0's PATH: busybox applets, then util-linux's flock (from /usr/bin here).
    await mkdir(join(dir, "bin"));
    for (const applet of await busyboxApplets()) {
      await symlink("/bin/busybox", join(dir, "bin", applet));
    }
    await writeFile(join(dir, "exec-server"), execServerScript, { mode: 0o755 });
    env = { PATH: `${join(dir, "bin")}:/usr/bin:/bin` };
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs the server on stdin/stdout with `requests`, to its end, and returns its answers. */
  async function serve(requests: string, cap = 4096): Promise<Map<number, ExecResponse>> {
    const child = spawn("/bin/busybox", ["sh", join(dir, "exec-server"), "-", String(cap)], {
      env,
      stdio: ["pipe", "pipe", "pipe"],
      timeout: 30_000,
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("latin1").on("data", (chunk: string) => (out += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
    child.stdin.end(requests);
    const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
    assert.equal(code, 0, `exec server exited ${code}: ${err}`);
    const answers = new Map<number, ExecResponse>();
    const lines = out.split("\n");
    assert.equal(lines.pop(), "", "the output ends with a newline");
    for (const line of lines) {
      const response = parseExecResponse(line);
      assert.ok(response, `not a response: ${line.slice(0, 200)}`);
      answers.set(response.id, response);
    }
    return answers;
  }

  void test("runs each command and answers with its code, stdout and stderr", async () => {
    const answers = await serve(
      encodeExecRequest(1, "echo hello; echo oops >&2; exit 3", 10) +
        encodeExecRequest(2, "pwd; printf 'a\\000b\\377'", 10) +
        encodeExecRequest(3, "read -r line || echo eof", 10),
    );
    assert.equal(answers.size, 3);
    assert.equal(answers.get(1)?.code, 3);
    assert.equal(answers.get(1)?.stdout.toString(), "hello\n");
    assert.equal(answers.get(1)?.stderr.toString(), "oops\n");
    assert.deepEqual(answers.get(2)?.stdout, Buffer.from("/tmp\na\0b\xff", "latin1"));
    // stdin is /dev/null: the request stream is not the command's input.
    assert.equal(answers.get(3)?.stdout.toString(), "eof\n");
  });

  void test("commands run concurrently; a late one is killed at its timeout", async () => {
    const startMs = Date.now();
    const order: number[] = [];
    const answers = await serve(
      encodeExecRequest(1, "sleep 5; echo late", 1) +
        encodeExecRequest(2, "sleep 0.3; echo second", 10) +
        encodeExecRequest(3, "echo first", 10),
    );
    const elapsedMs = Date.now() - startMs;
    for (const id of answers.keys()) order.push(id);
    assert.deepEqual(order, [3, 2, 1], "answers arrive as commands finish");
    assert.equal(answers.get(1)?.code, 137, "SIGKILL at the timeout");
    assert.equal(answers.get(1)?.stdout.length, 0);
    assert.equal(answers.get(2)?.stdout.toString(), "second\n");
    assert.ok(elapsedMs < 4000, `took ${elapsedMs} ms: the sleep 5 was not killed`);
  });

  void test("output is cut at the cap; bad requests are skipped or refused", async () => {
    const answers = await serve(
      "garbage line\n" +
        "X 1\n" +
        "X one 10 ZWNobyBubw==\n" +
        encodeExecRequest(2, "head -c 5000 /dev/zero; head -c 3000 /dev/zero >&2", 10) +
        "X 3 10 !!!notbase64\n" +
        encodeExecRequest(4, "echo after", 10),
      2048,
    );
    assert.deepEqual([...answers.keys()].sort(), [2, 3, 4]);
    assert.equal(answers.get(2)?.stdout.length, 2048);
    assert.equal(answers.get(2)?.stderr.length, 2048);
    assert.equal(answers.get(3)?.code, 126, "a script that does not decode is not run");
    assert.equal(answers.get(4)?.stdout.toString(), "after\n");
  });

  void test("a background process the command starts does not hold up the answer", async () => {
    const startMs = Date.now();
    const answers = await serve(
      encodeExecRequest(1, "sleep 3 & echo started", 10) + encodeExecRequest(2, "echo next", 10),
    );
    assert.equal(answers.get(1)?.stdout.toString(), "started\n");
    assert.equal(answers.get(2)?.stdout.toString(), "next\n");
    // The server waits for its own jobs at the end of input, not for the command's sleep.
    assert.ok(Date.now() - startMs < 2500, `took ${Date.now() - startMs} ms`);
  });
});
