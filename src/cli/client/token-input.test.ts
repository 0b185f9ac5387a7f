/**
 * Tokens never on the command line: --token VALUE is refused (saying how to pass it), --token-file
 * and `--token -` (stdin) are read, bounded and checked; and the real `etherplane` refuses a token
 * value without repeating it.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { runCli } from "../../../test/lab/cli-process.js";
import { isEtherplaneError } from "../../foundation/errors.js";
import { readTokenInput } from "./token-input.js";

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ep-token-input-"));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const refused = (pattern: RegExp) => (error: unknown) =>
  isEtherplaneError(error) && error.code === "INVALID_ARGUMENT" && pattern.test(error.message);

test("--token VALUE is refused with the ways to pass a token, and the value is not repeated", async () => {
  await assert.rejects(
    readTokenInput({ token: "ept_secret" }),
    (error: unknown) =>
      refused(/--token-file FILE, the ETHERPLANE_TOKEN environment variable, or --token -/)(
        error,
      ) && !(error as Error).message.includes("ept_secret"),
  );
});

test("--token-file: the first line, trimmed; empty, binary, huge or missing files are refused", async () => {
  const file = path.join(dir, "t");
  fs.writeFileSync(file, "  ept_abc \n# a comment line\n");
  assert.equal(await readTokenInput({ "token-file": file }), "ept_abc");
  fs.writeFileSync(file, "\n");
  await assert.rejects(readTokenInput({ "token-file": file }), refused(/is empty/));
  fs.writeFileSync(file, "ept a b");
  await assert.rejects(readTokenInput({ "token-file": file }), refused(/spaces or control/));
  fs.writeFileSync(file, "x".repeat(100_000));
  await assert.rejects(readTokenInput({ "token-file": file }), refused(/larger than \d+ bytes/));
  await assert.rejects(
    readTokenInput({ "token-file": path.join(dir, "missing") }),
    refused(/--token-file: cannot read .*missing/),
  );
});

test("--token - reads stdin; giving both is refused; neither gives undefined", async () => {
  const stdin = (bytesMax: number) => {
    assert.ok(bytesMax >= 4096, "stdin is read with a bound");
    return Promise.resolve("ept_from_stdin\n");
  };
  assert.equal(await readTokenInput({ token: "-" }, { stdin }), "ept_from_stdin");
  await assert.rejects(
    readTokenInput({ token: "-", "token-file": "/x" }, { stdin }),
    refused(/not both/),
  );
  assert.equal(await readTokenInput({}), undefined);
});

test("the etherplane command: --token VALUE exits 2 saying how; --token - reads the pipe", async () => {
  const env = { ETHERPLANE_CONFIG: path.join(dir, "none.json") };
  const plain = await runCli(
    ["volume", "list", "--controller", "http://127.0.0.1:9", "--token", "ept_visible"],
    { env },
  );
  assert.equal(plain.code, 2, plain.stderr);
  assert.match(plain.stderr, /--token does not take the token itself/);
  assert.match(plain.stderr, /--token-file FILE/);
  assert.doesNotMatch(plain.stderr, /ept_visible/);
  for (const args of [
    ["login", "--controller", "http://127.0.0.1:9", "--token", "ept_visible"],
    ["agent", "--join", "http://127.0.0.1:9", "--token", "ept_visible", "--data-dir", dir],
  ]) {
    const result = await runCli(args, { env });
    assert.equal(result.code, 2, `${args[0]}: ${result.stderr}`);
    assert.match(result.stderr, /ETHERPLANE_TOKEN/);
    assert.doesNotMatch(result.stderr, /ept_visible/);
  }
  // From stdin: the token is read, then the call fails for want of a controller at port 9.
  const piped = await runCli(
    ["volume", "list", "--controller", "http://127.0.0.1:9", "--token", "-"],
    { env, input: Buffer.from("ept_piped\n") },
  );
  assert.notEqual(piped.code, 2, piped.stderr);
  assert.notEqual(piped.code, 0);
  assert.doesNotMatch(piped.stderr, /not logged in|--token does not take/);
});
