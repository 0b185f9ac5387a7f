/**
 * What high availability must not forget when the controller restarts (kill -9 included): which
 * hosts are dead or fenced, the SAN MACs it fenced for each, and the guests each host must destroy
 * when it returns (DesiredState.evict). Without it a restarted controller would trust a fenced
 * host again for one lease period, serve its MACs the volumes an admin allowed them, and forget
 * to tell a returning host which of its guests now run elsewhere.
 *
 * One JSON value in the store's settings table under HA_JOURNAL_KEY (not an admin setting:
 * cluster-settings.ts lists and accepts only its own keys), so no schema change. failover.ts
 * writes it before each step acts (write-ahead) and reads it once when the controller starts.
 * The codec is pure; the value is validated when read: a malformed journal (an older or damaged
 * store) is dropped with the reasons, and HA falls back to declaring its hosts dead again one
 * lease after the start.
 */
import type { Eviction } from "../agent-protocol.js";

export const HA_JOURNAL_KEY = "ha.journal";
/** Hosts and evictions per host kept (bounds, far above any real cluster). */
export const JOURNAL_HOSTS_MAX = 100_000;
export const JOURNAL_EVICTIONS_PER_HOST_MAX = 1000;
const MACS_PER_HOST_MAX = 1024;
const TEXT_MAX = 256;

export interface JournalHost {
  kind: "dead" | "fenced";
  sinceMs: number;
  /** The MACs fenced for it, lower case. */
  macs: string[];
}

export interface HaJournal {
  hosts: Map<string, JournalHost>;
  evictions: Map<string, Eviction[]>;
}

/** The stored form: plain JSON. */
export function encodeJournal(journal: HaJournal): unknown {
  return {
    version: 1,
    hosts: Object.fromEntries(journal.hosts),
    evictions: Object.fromEntries(journal.evictions),
  };
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isText = (v: unknown): v is string =>
  typeof v === "string" && v.length > 0 && v.length <= TEXT_MAX;

function parseHost(value: unknown): JournalHost | string {
  if (!isRecord(value)) return "not an object";
  const { kind, sinceMs, macs } = value;
  if (kind !== "dead" && kind !== "fenced") return `kind ${JSON.stringify(kind)}`;
  if (typeof sinceMs !== "number" || !Number.isSafeInteger(sinceMs) || sinceMs < 0)
    return `sinceMs ${JSON.stringify(sinceMs)}`;
  if (!Array.isArray(macs) || macs.length > MACS_PER_HOST_MAX || !macs.every(isText))
    return "macs is not a list of MACs";
  return { kind, sinceMs, macs: macs.map((m) => m.toLowerCase()) };
}

function parseEvictions(value: unknown): Eviction[] | string {
  if (!Array.isArray(value) || value.length > JOURNAL_EVICTIONS_PER_HOST_MAX)
    return "not a bounded list";
  const out: Eviction[] = [];
  for (const e of value) {
    if (!isRecord(e) || !isText(e["id"]) || !isText(e["name"]) || !isText(e["uuid"]))
      return "an entry lacks id, name or uuid";
    out.push({ id: e["id"], name: e["name"], uuid: e["uuid"] });
  }
  return out;
}

/** The journal, and why each part that could not be read was dropped. Absent: empty. */
export function decodeJournal(value: unknown): { journal: HaJournal; problems: string[] } {
  const journal: HaJournal = { hosts: new Map(), evictions: new Map() };
  const problems: string[] = [];
  if (value === undefined || value === null) return { journal, problems };
  if (!isRecord(value) || value["version"] !== 1)
    return { journal, problems: ["not a version 1 HA journal"] };
  const { hosts, evictions } = value;
  if (isRecord(hosts))
    for (const [id, raw] of Object.entries(hosts).slice(0, JOURNAL_HOSTS_MAX)) {
      const host = parseHost(raw);
      if (typeof host === "string") problems.push(`host ${id}: ${host}`);
      else journal.hosts.set(id, host);
    }
  else problems.push("hosts is not an object");
  if (isRecord(evictions))
    for (const [id, raw] of Object.entries(evictions).slice(0, JOURNAL_HOSTS_MAX)) {
      const list = parseEvictions(raw);
      if (typeof list === "string") problems.push(`evictions of host ${id}: ${list}`);
      else journal.evictions.set(id, list);
    }
  else problems.push("evictions is not an object");
  return { journal, problems };
}
