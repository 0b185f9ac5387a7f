/**
 * The writer the crash test kills (sqlite-store.integ.test.ts): creates volumes, appends audit
 * entries and updates the previous volume in a loop, printing each volume's number once all its
 * writes have resolved (so a printed number is committed), until SIGKILL stops it mid-write.
 *
 *   node crash-writer.child.js <store file> <round> <pool id> <host id>
 */
import { fileURLToPath } from "node:url";
import type { AuditRecord, VolumeRecord } from "../../model.js";
import { openSqliteStore } from "./sqlite-store.js";

/** Far more than a test waits for; the loop still ends on its own. */
const WRITES_MAX = 1_000_000;
const ALLOW_MACS = 64;

/** Volume `i` of a round, as first written: every field derived from (round, i). */
export function crashVolume(
  round: number,
  i: number,
  pool: { id: string; hostId: string },
): VolumeRecord {
  const mac = (k: number): string =>
    [0x52, 0x54, round, (i >> 8) & 0xff, i & 0xff, k]
      .map((b) => b.toString(16).padStart(2, "0"))
      .join(":");
  return {
    id: `vol-r${round}-${i}`,
    name: `r${round}-v${i}`,
    kind: "volume",
    poolId: pool.id,
    hostId: pool.hostId,
    sizeBytes: (i + 1) * 4096,
    allocatedBytes: null,
    sourceId: null,
    shelf: round * 100 + Math.floor(i / 255),
    slot: i % 255,
    exported: false,
    allow: Array.from({ length: ALLOW_MACS }, (_, k) => mac(k)),
    allowEveryone: false,
    grants: [],
    appliedGeneration: 0,
    state: "creating",
    error: null,
    generation: 1,
    createdMs: 1_000 + i,
    updatedMs: 1_000 + i,
  };
}

/** The update each volume gets once the next one exists. */
export const CRASH_UPDATE = { state: "ready", exported: true, updatedMs: 5_000 } as const;

export function crashAudit(round: number, i: number): Omit<AuditRecord, "id"> {
  return {
    timeMs: 1_000 + i,
    actor: "crash-writer",
    role: "admin",
    method: "POST",
    path: `/api/v1/volumes/r${round}-v${i}`,
    status: 201,
    result: "ok",
    subject: `volume r${round}-v${i}`,
    detail: `r${round}-v${i};`.repeat(100),
  };
}

async function main(argv: string[]): Promise<void> {
  const [file, roundText, poolId, hostId] = argv;
  if (!file || !roundText || !poolId || !hostId) {
    throw new Error("usage: crash-writer.child.js <store file> <round> <pool id> <host id>");
  }
  const round = Number(roundText);
  const store = await openSqliteStore(file);
  for (let i = 0; i < WRITES_MAX; i++) {
    await store.createVolume(crashVolume(round, i, { id: poolId, hostId }));
    await store.appendAudit(crashAudit(round, i));
    if (i > 0) await store.updateVolume(`vol-r${round}-${i - 1}`, CRASH_UPDATE, 1);
    process.stdout.write(`${i}\n`);
  }
  await store.close();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main(process.argv.slice(2));
}
