/**
 * For the contract's crash case: a child process opens a pool the way the test did, starts a
 * clone and SIGKILLs itself from the progress callback once half the bytes are copied, so the
 * clone is interrupted at a known point, as a crashed agent would leave it.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";

export interface PoolOpener {
  /** The compiled module that exports the opener, e.g. new URL("../directory-pool.js", ...). */
  module: URL;
  exportName: string;
  /** Its arguments, as JSON. */
  args: unknown[];
}

const CHILD_TIMEOUT_MS = 30_000;

export async function crashMidClone(
  opener: PoolOpener,
  sourceId: string,
  targetId: string,
): Promise<void> {
  const code = `
    const m = await import(${JSON.stringify(opener.module.href)});
    const pool = await m[${JSON.stringify(opener.exportName)}](...${JSON.stringify(opener.args)});
    await pool.clone(${JSON.stringify(sourceId)}, ${JSON.stringify(targetId)}, (done, total) => {
      if (done >= total / 2 && done < total) process.kill(process.pid, "SIGKILL");
    });
    console.log("the clone finished: it was never interrupted");
    process.exit(3);
  `;
  const outcome = await new Promise<{ signal: string | null; output: string }>((resolve) => {
    execFile(
      process.execPath,
      ["--input-type=module", "-e", code],
      { timeout: CHILD_TIMEOUT_MS },
      (error, stdout, stderr) =>
        resolve({ signal: error?.signal ?? null, output: `${stdout}${stderr}` }),
    );
  });
  assert.equal(outcome.signal, "SIGKILL", `the child was killed mid-copy: ${outcome.output}`);
}
