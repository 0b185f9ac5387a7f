/**
 * `etherplane events [--follow] [--json] [--since T] [--limit N]`: the cluster's event log,
 * oldest first, one line each with its time. --follow keeps reading: the API's event stream
 * (/api/v1/events, the web UI's) says when the log has new lines, which are then fetched after
 * the last one seen. --json prints one JSON object per line.
 */
import type { EventRecord } from "../../cluster/model.js";
import { EtherplaneError } from "../../foundation/errors.js";
import { parse, usageError } from "../args.js";
import type { ApiClient } from "../client/api-client.js";
import { SseParser } from "../client/sse-parser.js";
import { checkReply } from "../client/reply-check.js";
import { printable } from "../output/printable.js";
import { openSession, sessionFlags } from "./session.js";
import { ChangeMessage, EventListReply } from "../../api/replies.js";

const usage =
  "etherplane events [--follow|-f] [--json] [--since TIME] [--limit N]\n" +
  "  TIME: an ISO time (2025-01-31T12:00Z) or an age (90s, 30m, 12h, 7d); N: 1-10000 (100)";

/** A page of new events after the cursor; the list route's largest. */
const FOLLOW_PAGE = 1000;
const AGE_UNITS_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseSince(text: string, nowMs: number): number {
  const age = /^(\d{1,7})([smhd])$/.exec(text);
  if (age) return nowMs - Number(age[1]) * (AGE_UNITS_MS[age[2] ?? "s"] ?? 0);
  const ms = Date.parse(text);
  if (!Number.isFinite(ms) || !/^\d{4}-\d{2}-\d{2}/.test(text))
    throw usageError(
      `--since ${text}: give an ISO time (2025-01-31T12:00Z) or an age (30m)`,
      usage,
    );
  return ms;
}

export function formatEvent(event: EventRecord): string {
  const fields = Object.entries(event.fields)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(" ");
  const line = `${new Date(event.timeMs).toISOString()}  ${event.kind.padEnd(24)} ${event.subject.padEnd(16)} ${event.message}${fields ? `  [${fields}]` : ""}`;
  return printable(line);
}

type Page = { events: EventRecord[]; nextCursor: string | null };

async function page(client: ApiClient, query: Record<string, string>): Promise<Page> {
  return client.request(
    "GET",
    `/api/v1/cluster-events?${new URLSearchParams(query).toString()}`,
    EventListReply,
  );
}

/** A `change` message's topics, checked (replies.ts): a PROTOCOL error if it does not fit. */
function changedTopics(data: string, baseUrl: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    value = undefined;
  }
  const context = { method: "GET", path: "/api/v1/events", baseUrl, status: 200 };
  return checkReply(ChangeMessage, value, context).topics;
}

export async function eventsCommand(args: string[]): Promise<void> {
  const { values, positionals } = parse(
    args,
    {
      ...sessionFlags,
      follow: { type: "boolean", short: "f" },
      since: { type: "string" },
      limit: { type: "string" },
    },
    usage,
  );
  if (values.help) return void process.stdout.write(`usage: ${usage}\n`);
  if (positionals.length > 0) throw usageError(`events: unexpected ${positionals[0]}`, usage);
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
    throw usageError(`--limit ${values.limit}: give a whole number from 1 to 10000`, usage);
  const query: Record<string, string> = { limit: String(limit) };
  if (values.since !== undefined) query["sinceMs"] = String(parseSince(values.since, Date.now()));
  const session = await openSession(values);
  const print = (events: EventRecord[]) => {
    for (const event of events)
      process.stdout.write(`${session.json ? JSON.stringify(event) : formatEvent(event)}\n`);
  };
  const first = await page(session.client, query);
  print(first.events);
  if (!values.follow) return;
  let cursor = first.nextCursor;
  if (cursor === null) {
    // Nothing printed (a --since after the newest): follow from the newest there is.
    const newest = await page(session.client, { limit: "1" });
    cursor = newest.events.at(-1)?.id.toString() ?? "0";
  }
  const catchUp = async () => {
    for (;;) {
      const next = await page(session.client, {
        limit: String(FOLLOW_PAGE),
        cursor: cursor ?? "0",
      });
      print(next.events);
      cursor = next.nextCursor ?? cursor;
      if (next.events.length < FOLLOW_PAGE) return;
    }
  };
  const stop = new AbortController();
  // Asked to stop, it stops: the stream's abort ends the loop at once (ApiClient.stream cancels
  // the body's reader: a follower once read on after it when a GC had dropped fetch's own link
  // to the signal). The process still exits 2 s later, a guard against what we have not seen.
  const end = () => {
    stop.abort();
    setTimeout(() => process.exit(), 2000).unref();
  };
  process.once("SIGINT", end);
  process.once("SIGTERM", end);
  try {
    const parser = new SseParser();
    for await (const chunk of session.client.stream("/api/v1/events", stop.signal)) {
      for (const message of parser.push(chunk)) {
        if (message.event === "hello") await catchUp();
        if (message.event !== "change") continue;
        if (changedTopics(message.data, session.client.baseUrl).includes("events")) await catchUp();
      }
    }
    if (!stop.signal.aborted)
      throw new EtherplaneError(
        "UNAVAILABLE",
        "the controller closed the event stream (is it shutting down?); run etherplane events --follow again",
      );
  } finally {
    process.off("SIGINT", end);
    process.off("SIGTERM", end);
  }
}
