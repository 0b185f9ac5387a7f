/**
 * QMP, the QEMU Machine Protocol (docs/interop/qmp-spec.txt): JSON objects, one per line (QEMU
 * ends each with "\r\n"). Pure: lines in, typed messages out; commands out as lines.
 *
 *   greeting  {"QMP": {"version": {"qemu": {"major","minor","micro"}, "package"}, "capabilities": [..]}}
 *   success   {"return": <json>, "id": <json>?}
 *   error     {"error": {"class": <string>, "desc": <string>}, "id": <json>?}
 *   event     {"event": <string>, "data": <object>?, "timestamp": {"seconds","microseconds"}}
 *   command   {"execute": <string>, "arguments": <object>?, "id": <json>?}
 *
 * What QEMU sends is validated, not trusted: a line over `qmpLineBytesMax`, text that is not
 * JSON, or an object of none of the four shapes becomes a reason string.
 */

/** Far above any reply this driver asks for (query-status, query-cpus-fast: < 4 KiB). */
export const qmpLineBytesMax = 1024 * 1024;
const stringCharsMax = 64 * 1024;

export interface QmpVersion {
  major: number;
  minor: number;
  micro: number;
}

export type QmpMessage =
  | { kind: "greeting"; version: QmpVersion; package: string; capabilities: string[] }
  | { kind: "return"; id: string | undefined; value: unknown }
  | { kind: "error"; id: string | undefined; errorClass: string; description: string }
  | { kind: "event"; name: string; data: Record<string, unknown>; timestampMs: number };

export type QmpParseResult = { ok: true; message: QmpMessage } | { ok: false; reason: string };

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function boundedString(value: unknown): value is string {
  return typeof value === "string" && value.length <= stringCharsMax;
}

/** Our ids are strings; QEMU echoes whatever JSON was sent, so other ids are not ours. */
function idOf(object: JsonObject): { ok: true; id: string | undefined } | { ok: false } {
  if (!("id" in object)) return { ok: true, id: undefined };
  return boundedString(object["id"]) ? { ok: true, id: object["id"] } : { ok: false };
}

function fail(reason: string): QmpParseResult {
  return { ok: false, reason };
}

/** Parses one line (without its line ending). */
export function parseQmpLine(line: string): QmpParseResult {
  if (Buffer.byteLength(line) > qmpLineBytesMax) return fail(`line over ${qmpLineBytesMax} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return fail("not JSON");
  }
  if (!isObject(value)) return fail("not a JSON object");

  if ("QMP" in value) {
    const qmp = value["QMP"];
    if (!isObject(qmp) || !isObject(qmp["version"])) return fail("greeting without version");
    const version = qmp["version"];
    const qemu = version["qemu"];
    if (!isObject(qemu)) return fail("greeting without version.qemu");
    const { major, minor, micro } = qemu;
    if (!isCount(major) || !isCount(minor) || !isCount(micro)) {
      return fail("greeting version is not three counts");
    }
    const pkg = version["package"] ?? "";
    if (!boundedString(pkg)) return fail("greeting package is not a string");
    const caps = qmp["capabilities"] ?? [];
    if (!Array.isArray(caps) || !caps.every(boundedString)) {
      return fail("greeting capabilities are not strings");
    }
    return {
      ok: true,
      message: {
        kind: "greeting",
        version: { major, minor, micro },
        package: pkg,
        capabilities: caps,
      },
    };
  }
  if ("return" in value) {
    const id = idOf(value);
    if (!id.ok) return fail("reply id is not a bounded string");
    return { ok: true, message: { kind: "return", id: id.id, value: value["return"] } };
  }
  if ("error" in value) {
    const id = idOf(value);
    if (!id.ok) return fail("reply id is not a bounded string");
    const error = value["error"];
    if (!isObject(error) || !boundedString(error["class"]) || !boundedString(error["desc"])) {
      return fail("error without class and desc strings");
    }
    return {
      ok: true,
      message: { kind: "error", id: id.id, errorClass: error["class"], description: error["desc"] },
    };
  }
  if ("event" in value) {
    const name = value["event"];
    if (!boundedString(name) || !/^[A-Z][A-Z0-9_]*$/.test(name)) return fail("bad event name");
    const data = value["data"] ?? {};
    if (!isObject(data)) return fail(`event ${name} data is not an object`);
    const timestamp = value["timestamp"];
    if (!isObject(timestamp)) return fail(`event ${name} without timestamp`);
    const { seconds, microseconds } = timestamp;
    // QEMU sends -1/-1 when the clock failed (qmp-spec: "timestamp"): keep the event, time 0.
    const known = isCount(seconds) && isCount(microseconds);
    const timestampMs = known ? seconds * 1000 + Math.floor(microseconds / 1000) : 0;
    return { ok: true, message: { kind: "event", name, data, timestampMs } };
  }
  return fail("object is no greeting, reply, error or event");
}

/** Command names are QAPI names: letters, digits, '-' and '_' (`x-` prefixes included). */
const commandNamePattern = /^[a-z][a-z0-9_-]{0,63}$/;

/** One command line, "\n"-terminated. `id` lets the reply be matched among events. */
export function encodeQmpCommand(
  execute: string,
  args?: Record<string, unknown>,
  id?: string,
): string {
  if (!commandNamePattern.test(execute)) throw new Error(`bad QMP command name ${execute}`);
  const command: JsonObject = { execute };
  if (args !== undefined) command["arguments"] = args;
  if (id !== undefined) command["id"] = id;
  return JSON.stringify(command) + "\n";
}

/**
 * Splits a byte stream into lines, bounded: a line longer than `qmpLineBytesMax` puts the
 * decoder in a failed state (the caller drops the connection) instead of buffering forever.
 */
export class QmpLineDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  failure: string | undefined;

  push(chunk: Buffer): string[] {
    if (this.failure !== undefined) return [];
    const lines: string[] = [];
    let start = 0;
    while (start < chunk.length) {
      const end = chunk.indexOf(0x0a, start);
      const piece = chunk.subarray(start, end < 0 ? chunk.length : end);
      this.pendingBytes += piece.length;
      if (this.pendingBytes > qmpLineBytesMax) {
        this.failure = `line over ${qmpLineBytesMax} bytes`;
        this.pending = [];
        return lines;
      }
      this.pending.push(piece);
      if (end < 0) break;
      const line = Buffer.concat(this.pending).toString("utf8").replace(/\r$/, "");
      this.pending = [];
      this.pendingBytes = 0;
      if (line.trim() !== "") lines.push(line);
      start = end + 1;
    }
    return lines;
  }
}

/**
 * The messages of a QMP transcript (the event journal QEMU writes, see run-dir.ts), from a tail
 * that may start inside a line: the first line is dropped when `startsMidLine`, and lines that do
 * not parse are skipped (a journal is evidence, not a peer to fail on).
 */
export function parseQmpTranscript(text: string, startsMidLine: boolean): QmpMessage[] {
  const lines = text.split("\n");
  if (startsMidLine) lines.shift();
  const messages: QmpMessage[] = [];
  for (const raw of lines) {
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "") continue;
    const parsed = parseQmpLine(line);
    if (parsed.ok) messages.push(parsed.message);
  }
  return messages;
}
