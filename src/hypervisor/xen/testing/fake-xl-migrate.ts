/**
 * A FAKE `xl migrate` / `xl migrate-receive` for tests without Xen: a real process that speaks
 * xl's handshake (the four fixed messages of tools/xl/xl.h and their order in xl_migrate.c) over
 * the same pipes and the same `-s` transport command as xl, with a made-up payload in place of
 * libxl's save stream (a length-prefixed config, then FAKE_XL_MEMORY_BYTES of "memory"). It
 * prints xl's own stderr lines, so the driver's outcome parsing sees what xl would say.
 *
 *   node fake-xl-migrate.js migrate [-C CFG] -s COMMAND DOMID HOST
 *   node fake-xl-migrate.js migrate-receive
 *
 * FAKE_XL_SCENARIO: "ok" (default); "target-fails" (the receiver reports a startup failure and
 * gives the guest back); "hang" (the receiver never acknowledges the transfer).
 * FAKE_XL_RECEIVED: a file where the receiver writes the config it got.
 */
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";

// tools/xl/xl.h (the banner is sent without its NUL, the others with it).
export const BANNER = "xl migration receiver ready, send binary domain data.\n";
export const READY = "domain received, ready to unpause\0";
export const GO = "domain is yours, you are cleared to unpause\0";
export const REPORT = "my copy unpause results are as follows\0";

/** Reads exactly `n` bytes from `input` (null at EOF before that). */
function readExactly(input: Readable, n: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const tryRead = () => {
      const chunk = input.read(n) as Buffer | null;
      if (chunk !== null) {
        cleanup();
        resolve(chunk);
      }
    };
    const onEnd = () => {
      cleanup();
      resolve(null);
    };
    const cleanup = () => {
      input.off("readable", tryRead);
      input.off("end", onEnd);
    };
    input.on("readable", tryRead);
    input.once("end", onEnd);
    tryRead();
  });
}

async function expect(input: Readable, message: string, what: string): Promise<boolean> {
  const got = await readExactly(input, Buffer.byteLength(message));
  if (got === null || got.toString("latin1") !== message) {
    process.stderr.write(
      `migration receiver stream contained unexpected data instead of ${what}\n`,
    );
    return false;
  }
  return true;
}

function frame(data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32LE(data.length);
  return Buffer.concat([length, data]);
}

async function migrate(args: string[]): Promise<number> {
  let config: string | null = null;
  let command = "ssh";
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "-C") config = args[++i] ?? "";
    else if (args[i] === "-s") command = args[++i] ?? "";
    else rest.push(args[i] ?? "");
  }
  const [domid, host] = rest;
  if (domid === undefined || host === undefined) return 2;
  const rune = `exec ${command} ${host} xl migrate-receive`;
  const child = spawn("sh", ["-c", rune], { stdio: ["pipe", "pipe", "inherit"] });
  child.stdin.on("error", () => undefined);
  const fail = (line: string) => {
    process.stderr.write(`${line}\n`);
    child.stdin.destroy();
    return 1;
  };
  if (!(await expect(child.stdout, BANNER, "banner")))
    return fail("Migration failed, resuming at sender.");
  const configText = config === null ? `{"domid":${domid}}` : readFileSync(config, "utf8");
  const memory = Buffer.alloc(Number(process.env["FAKE_XL_MEMORY_BYTES"] ?? 65536), 0x5a);
  process.stderr.write("Saving to migration stream new xl format (info 0x3/0x0/1795)\n");
  child.stdin.write(frame(Buffer.from(configText)));
  child.stdin.write(frame(memory));
  if (!(await expect(child.stdout, READY, "ready message")))
    return fail("Migration failed, resuming at sender.");
  process.stderr.write("migration sender: Target has acknowledged transfer.\n");
  process.stderr.write("migration sender: Giving target permission to start.\n");
  child.stdin.write(GO);
  if (!(await expect(child.stdout, REPORT, "success/failure report message")))
    return fail("** Migration failed during final handshake **\nDomain state is now undefined !");
  const rc = await readExactly(child.stdout, 1);
  if (rc === null) return fail("Domain state is now undefined !");
  if (rc[0] !== 0) {
    process.stderr.write(
      `migration sender: Target reports startup failure (status code ${rc[0]}).\n`,
    );
    await expect(child.stdout, GO, "permission for sender to resume");
    process.stderr.write("migration sender: Trying to resume at our end.\n");
    return fail("Migration failed due to problems at target.");
  }
  process.stderr.write("migration sender: Target reports successful startup.\n");
  child.stdin.end();
  process.stderr.write("Migration successful.\n");
  return 0;
}

async function migrateReceive(): Promise<number> {
  const scenario = process.env["FAKE_XL_SCENARIO"] ?? "ok";
  process.stderr.write("migration target: Ready to receive domain.\n");
  process.stdout.write(BANNER);
  const readFrame = async () => {
    const length = await readExactly(process.stdin, 4);
    return length === null ? null : readExactly(process.stdin, length.readUInt32LE());
  };
  const config = await readFrame();
  const memory = await readFrame();
  if (config === null || memory === null) {
    process.stderr.write("migration target: Domain creation failed (code -3).\n");
    return 1;
  }
  const received = process.env["FAKE_XL_RECEIVED"];
  if (received !== undefined) writeFileSync(received, config);
  if (scenario === "hang") {
    await new Promise((resolve) => process.stdin.once("end", resolve).resume());
    process.stderr.write("migration target: Domain creation failed (code -3).\n");
    return 1;
  }
  process.stdout.write(READY);
  if (!(await expect(process.stdin, GO, "GO message"))) return 1;
  process.stdout.write(REPORT);
  if (scenario === "target-fails") {
    process.stdout.write(Buffer.from([3]));
    process.stderr.write("migration target: Failure, destroying our copy.\n");
    process.stdout.write(GO);
    return 0;
  }
  process.stdout.write(Buffer.from([0]));
  process.stderr.write("migration target: Domain started successsfully.\n");
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [verb, ...args] = process.argv.slice(2);
  const code = verb === "migrate" ? await migrate(args) : await migrateReceive();
  process.stdout.end(() => process.exit(code));
}
