/**
 * domids for QEMU guests, counted as Xen counts them: the next one after the last one given, so
 * a restarted guest gets a new one and an administrator sees the restart in `list`. The last one
 * given is kept in the state dir (`.last-domid`); the domids of existing run directories are
 * skipped. The caller serializes calls (the driver's create lock): two agents on one host could
 * still pick the same domid (one agent per host is the model).
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { EtherplaneError } from "../../foundation/errors.js";
import { listRunDirNames, readRecord, runDirOf } from "./run-dir.js";

/** Xen's last ordinary domid: DOMID_FIRST_RESERVED (0x7FF0) - 1, xen/include/public/xen.h. */
export const domidMax = 0x7fef;

/** The first domid in 1..domidMax after `last`, wrapping, that is not in `used`. */
export function nextDomid(last: number, used: ReadonlySet<number>): number | undefined {
  const start = Number.isInteger(last) && last >= 0 && last < domidMax ? last : 0;
  for (let step = 1; step <= domidMax; step += 1) {
    const domid = ((start + step - 1) % domidMax) + 1;
    if (!used.has(domid)) return domid;
  }
  return undefined;
}

export async function allocateDomid(stateDir: string): Promise<number> {
  const used = new Set<number>();
  for (const name of await listRunDirNames(stateDir)) {
    const record = await readRecord(runDirOf(stateDir, name));
    if (record) used.add(record.domid);
  }
  const counter = join(stateDir, ".last-domid");
  const domid = nextDomid(Number(await readFile(counter, "utf8").catch(() => "0")), used);
  if (domid === undefined)
    throw new EtherplaneError("UNAVAILABLE", `no free domid up to ${domidMax}`);
  await writeFile(counter, String(domid));
  return domid;
}
