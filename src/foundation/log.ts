/**
 * Structured, namespaced logs. Libraries call `createLogger("aoe:target")`; only an entry point
 * decides where records go (`setLogSink`). The level comes from ETHERPLANE_LOG:
 * `info` (default), `debug`, `warn`, `error`, `silent`, or per namespace prefix,
 * e.g. `warn,aoe:target=debug`.
 */
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

let sink: LogSink = (record) => process.stderr.write(formatRecord(record) + "\n");
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
