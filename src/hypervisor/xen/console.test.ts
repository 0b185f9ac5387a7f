/**
 * The driver's console through real processes: a fake `xl` shell script stands in for
 * `xl console` (no Xen here), with the same contract xenconsole has (tools/console/client):
 * replay what the pty holds, then relay bytes both ways until a signal. A second run wraps it in
 * the host's real util-linux `script`, as the driver does on a Xen host.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import type { GuestConsoleSession } from "../driver.js";
import { XenDriver } from "./xen-driver.js";

/** A fake xl: `console NAME` replays a backlog, then echoes lines, counting its runs. */
const fakeXl = `#!/bin/sh
[ "$1" = console ] || { echo "fake xl: only console" >&2; exit 2; }
[ "$2" = ep-run ] || { echo "$2 is an invalid domain identifier (rc=-6)" >&2; exit 1; }
echo run >>"$(dirname "$0")/runs"
printf 'tick 1\\r\\ntick 2\\r\\n'
while IFS= read -r line; do printf 'echo:%s\\r\\n' "$line"; done
`;

function collect(stream: Readable): { text: () => string } {
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  return { text: () => Buffer.concat(chunks).toString("latin1") };
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const startMs = Date.now();
  while (!check()) {
    if (Date.now() - startMs > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function send(session: GuestConsoleSession, text: string): Promise<void> {
  await new Promise<void>((resolve, reject) =>
    session.stream.write(text, (error) => (error ? reject(error) : resolve())),
  );
}

describe("xen driver console", () => {
  let dir: string;
  let xlPath: string;
  let logDir: string;
  const driver = (scriptPath: string | null, consoleLogDir: string | null = logDir) =>
    new XenDriver({
      stateDir: join(dir, "state"),
      xlPath,
      scriptPath,
      consoleLogDir,
      run: () => Promise.reject(new Error("no xl commands in this test")),
    });
  const runs = async () =>
    (await readFile(join(dir, "runs"), "utf8").catch(() => "")).split("\n").length - 1;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ep-xen-console-"));
    xlPath = join(dir, "xl");
    logDir = join(dir, "log");
    await writeFile(xlPath, fakeXl, { mode: 0o755 });
    await mkdir(logDir);
    // xenconsoled's log holds the boot and, at its end, what the pty still holds.
    await writeFile(join(logDir, "guest-ep-run.log"), "boot message\r\ntick 1\r\ntick 2\r\n");
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test("history from the log without the replayed repeat; sessions share one process", async () => {
    const xen = driver(null);
    const first = await xen.console("ep-run");
    assert.equal(first.history.toString(), "boot message\r\ntick 1\r\ntick 2\r\n");
    const firstOut = collect(first.stream);
    const second = await xen.console("ep-run");
    const secondOut = collect(second.stream);
    assert.equal(await runs(), 1, "one xl console for both sessions");

    await send(first, "hello\n");
    await send(second, "a\x1db\n");
    const expected = "echo:hello\r\necho:ab\r\n";
    await until("both echoes", () => firstOut.text() === expected);
    await until("the second session", () => secondOut.text() === expected);
    assert.doesNotMatch(firstOut.text(), /tick/, "the backlog is history, not live output");

    await first.close();
    await send(second, "still\n");
    await until("output after the first closed", () => secondOut.text().includes("echo:still"));
    await second.close();
    // The last close ends the process; a new attach starts another.
    const third = await xen.console("ep-run");
    await third.close();
    assert.equal(await runs(), 2);
  });

  test("concurrent attaches share one process; an attach after the last close starts one", async () => {
    const xen = driver(null);
    const before = await runs();
    const [a, b] = await Promise.all([xen.console("ep-run"), xen.console("ep-run")]);
    assert.equal((await runs()) - before, 1);
    const closing = Promise.all([a.close(), b.close()]);
    const c = await xen.console("ep-run"); // waits for the old process to let go
    await closing;
    const out = collect(c.stream);
    await send(c, "again\n");
    await until("the new process's echo", () => out.text().includes("echo:again"));
    await c.close();
    assert.equal((await runs()) - before, 2);
  });

  test("without a log, the replayed backlog is the history", async () => {
    const session = await driver(null, null).console("ep-run");
    assert.equal(session.history.toString(), "tick 1\r\ntick 2\r\n");
    await session.close();
  });

  test("an unknown guest is NOT_FOUND, from xl's own message", async () => {
    await assert.rejects(driver(null).console("nosuch"), (error: unknown) => {
      assert.ok(isEtherplaneError(error, "NOT_FOUND"), String(error));
      assert.match(error.message, /no guest nosuch.*invalid domain identifier/);
      return true;
    });
  });

  const script = ["/usr/bin/script", "/bin/script"].find((path) => existsSync(path));
  test(
    "under util-linux script, as on a Xen host: input reaches the console through a pty",
    { skip: script === undefined ? "no util-linux script here" : false },
    async () => {
      const session = await driver(script as string).console("ep-run");
      const out = collect(session.stream);
      await send(session, "through-a-pty\n");
      await until("the echo through the pty", () => out.text().includes("echo:through-a-pty"));
      await session.close();
      await assert.rejects(driver(script as string).console("nosuch"), (error: unknown) =>
        isEtherplaneError(error, "NOT_FOUND"),
      );
    },
  );
});
