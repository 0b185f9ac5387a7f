/**
 * Structured, namespaced logs. Libraries call `createLogger("aoe:target")`; only an entry point
 * decides where records go (`setLogSink`) and in which format (`logSink("text" | "json")`: one
 * readable line, or one JSON object per line for a service manager's journal). The level comes
 * from ETHERPLANE_LOG: `info` (default), `debug`, `warn`, `error`, `silent`, or per namespace
 * prefix, e.g. `warn,aoe:target=debug`.
 */
import { EtherplaneError, errorMessage } from "./errors.js";

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
export type LogFields = Record<string, unknown>;
export interface LogRecord {
  timeMs: number;
  level: Exclude<LogLevel, "silent">;
  namespace: string;
  message: string;
  fields: LogFields;
}
export type LogSink = (record: LogRecord) => void;

const levelRank: Record<LogLevel, number> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
  silent: 99,
};

/** Field names whose values are never written out (secrets are masked before logging). */
const secretKeyPattern = /token|secret|password|authorization/i;

function maskSecrets(fields: LogFields): LogFields {
  const masked: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    masked[key] = secretKeyPattern.test(key) ? "***" : value;
  }
  return masked;
}

export function formatRecord(record: LogRecord): string {
  const fields = Object.entries(record.fields)
    .map(
      ([key, value]) =>
        `${key}=${typeof value === "string" ? JSON.stringify(value) : String(value)}`,
    )
    .join(" ");
  const time = new Date(record.timeMs).toISOString();
  return `${time} ${record.level.toUpperCase()} ${record.namespace}: ${record.message}${fields ? " " + fields : ""}`;
}

export const LOG_FORMATS = ["text", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The keys every JSON record has; a field of the same name is written as `field.NAME`. */
const jsonKeys = new Set(["time", "level", "namespace", "message"]);

/** Values JSON cannot hold as they are: errors as their message, bigints as text. */
function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return errorMessage(value);
  return value;
}

/**
 * One record as one line of JSON: `{"time":ISO,"level","namespace","message",...fields}`.
 * Never throws: a field JSON cannot write (a cycle) is written as its text.
 */
export function formatJsonRecord(record: LogRecord): string {
  const out: Record<string, unknown> = {
    time: new Date(record.timeMs).toISOString(),
    level: record.level,
    namespace: record.namespace,
    message: record.message,
  };
  for (const [key, value] of Object.entries(record.fields)) {
    // A Buffer (a MAC, a frame) as hex: its toJSON would run before any replacer.
    out[jsonKeys.has(key) ? `field.${key}` : key] = Buffer.isBuffer(value)
      ? value.toString("hex")
      : value;
  }
  try {
    return JSON.stringify(out, jsonValue);
  } catch {
    for (const [key, value] of Object.entries(out)) {
      try {
        JSON.stringify(value, jsonValue);
      } catch {
        out[key] = String(value);
      }
    }
    return JSON.stringify(out, jsonValue);
  }
}

/** `text` or `json`; INVALID_ARGUMENT naming `source` (the flag or variable) otherwise. */
export function parseLogFormat(text: string, source: string): LogFormat {
  const format = LOG_FORMATS.find((f) => f === text);
  if (format === undefined) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `${source}: ${JSON.stringify(text.slice(0, 40))} is not a log format; use ${LOG_FORMATS.join(" or ")}`,
      { params: { key: source } },
    );
  }
  return format;
}

/** A sink writing each record as one line in `format` (to stderr unless told otherwise). */
export function logSink(
  format: LogFormat,
  write: (line: string) => void = (line) => process.stderr.write(line),
): LogSink {
  const render = format === "json" ? formatJsonRecord : formatRecord;
  return (record) => write(render(record) + "\n");
}

let sink: LogSink = logSink("text");
let levelSpec = parseLevelSpec(process.env["ETHERPLANE_LOG"] ?? "info");

export function setLogSink(next: LogSink): void {
  sink = next;
}

export function setLogLevel(spec: string): void {
  levelSpec = parseLevelSpec(spec);
}

interface LevelSpec {
  fallback: LogLevel;
  byPrefix: Array<[string, LogLevel]>;
}

function isLevel(value: string): value is LogLevel {
  return value in levelRank;
}

function parseLevelSpec(spec: string): LevelSpec {
  const result: LevelSpec = { fallback: "info", byPrefix: [] };
  for (const part of spec.split(",").map((p) => p.trim())) {
    if (!part) continue;
    const [prefix, level] = part.includes("=") ? part.split("=", 2) : [undefined, part];
    if (level === undefined || !isLevel(level)) continue;
    if (prefix === undefined) result.fallback = level;
    else result.byPrefix.push([prefix, level]);
  }
  result.byPrefix.sort((a, b) => b[0].length - a[0].length);
  return result;
}

function levelFor(namespace: string): LogLevel {
  for (const [prefix, level] of levelSpec.byPrefix) {
    if (namespace.startsWith(prefix)) return level;
  }
  return levelSpec.fallback;
}

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export function createLogger(namespace: string): Logger {
  const emit = (level: Exclude<LogLevel, "silent">, message: string, fields: LogFields = {}) => {
    if (levelRank[level] < levelRank[levelFor(namespace)]) return;
    sink({ timeMs: Date.now(), level, namespace, message, fields: maskSecrets(fields) });
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}
