/**
 * Applies the policy table (policy-table.ts) to a parsed domain file: what it refuses, with the
 * line and why. Pure. Who may go past a refusal is `enforceDomainPolicy`: nobody but an admin,
 * and an admin only by naming each key (`allowUnsafe`), so that the use is explicit and audited.
 */
import { EtherplaneError, isEtherplaneError } from "../../foundation/errors.js";
import { parseDiskSpec } from "../xl-cfg/disk-spec.js";
import { findSetting, type XlConfig, type XlSetting, type XlValue } from "../xl-cfg/types.js";
import { parseVifSpec } from "../xl-cfg/vif-spec.js";
import { policyRowFor, type PolicyRule } from "./policy-table.js";

export interface PolicyOptions {
  /** Boot loaders dom0 may run for a guest (xl resolves a bare name in its libexec dir). */
  approvedBootloaders: readonly string[];
}

export const DEFAULT_POLICY_OPTIONS: PolicyOptions = { approvedBootloaders: ["pygrub"] };

/** One refused setting. */
export interface PolicyFinding {
  key: string;
  line: number;
  /** What in the value is refused, e.g. `item 1: script=/x`; the value itself for scalars. */
  detail: string;
  reason: string;
}

/** Bounds what a finding quotes of a hostile file. */
const DETAIL_CHARS_MAX = 120;
/** Bounds how many findings a message or audit line lists (a file may hold 10,000 vifs). */
export const FINDINGS_LISTED_MAX = 20;

function listed<T>(items: readonly T[], show: (item: T) => string, separator: string): string {
  const shown = items.slice(0, FINDINGS_LISTED_MAX).map(show);
  if (items.length > FINDINGS_LISTED_MAX)
    shown.push(`... and ${items.length - FINDINGS_LISTED_MAX} more`);
  return shown.join(separator);
}

export function checkDomainPolicy(
  config: XlConfig,
  options: PolicyOptions = DEFAULT_POLICY_OPTIONS,
): PolicyFinding[] {
  const findings: PolicyFinding[] = [];
  for (const setting of config.settings) {
    const row = policyRowFor(setting.key);
    if (row === undefined) continue;
    for (const detail of refusals(row.rule, setting, config, options)) {
      findings.push({
        key: setting.key,
        line: setting.line,
        detail: clip(detail),
        reason: row.reason,
      });
    }
  }
  return findings;
}

function refusals(
  rule: PolicyRule,
  setting: XlSetting,
  config: XlConfig,
  options: PolicyOptions,
): string[] {
  const value = setting.value;
  switch (rule.kind) {
    case "never":
      return [`${setting.key} = ${show(value)}`];
    case "oneOf":
      return scalars(value)
        .filter((item) => !rule.values.includes(item))
        .map((item) => `${setting.key} = ${JSON.stringify(item)}`);
    case "bootloader":
      return scalars(value)
        .filter((item) => !options.approvedBootloaders.includes(item))
        .map((item) => `bootloader = ${JSON.stringify(item)}`);
    case "loopback":
      return scalars(value)
        .filter((item) => !isLoopback(item))
        .map((item) => `${setting.key} = ${JSON.stringify(item)}`);
    case "needsLoopback": {
      if (!scalars(value).some(truthy)) return [];
      const listen = findSetting(config, rule.key);
      if (listen !== undefined && scalars(listen.value).every(isLoopback)) return [];
      return [`${setting.key} = ${show(value)} without ${rule.key} on loopback`];
    }
    case "items":
      return itemRefusals(rule, setting);
  }
}

function itemRefusals(rule: Extract<PolicyRule, { kind: "items" }>, setting: XlSetting): string[] {
  const out: string[] = [];
  scalars(setting.value).forEach((item, index) => {
    const where = `item ${index + 1}`;
    let pairs: Array<[string, string]>;
    try {
      pairs = specPairs(rule.spec, item);
    } catch (error) {
      // The file's own reader reports a malformed item with its fix; nothing is allowed by it.
      if (!isEtherplaneError(error, "INVALID_CONFIG")) throw error;
      out.push(`${where}: ${JSON.stringify(item)} does not read`);
      return;
    }
    for (const [key, value] of pairs) {
      if (rule.refused.includes(key)) out.push(`${where}: ${key}=${value}`);
      else if (rule.loopback?.includes(key) && !isLoopback(value))
        out.push(`${where}: ${key}=${value}`);
    }
  });
  return out;
}

/** The `key=value` pairs of one list item, as xl reads that kind of spec. */
function specPairs(spec: "vif" | "disk" | "plain", item: string): Array<[string, string]> {
  if (spec === "disk") {
    const disk = parseDiskSpec(item);
    const pairs: Array<[string, string]> = Object.entries(disk.options);
    if (disk.script !== undefined) pairs.push(["script", disk.script]);
    if (disk.backend !== undefined) pairs.push(["backend", disk.backend]);
    return pairs;
  }
  if (spec === "vif") {
    const vif = parseVifSpec(item);
    const pairs: Array<[string, string]> = Object.entries(vif.options);
    for (const [key, value] of Object.entries(vif))
      if (typeof value === "string") pairs.push([key, value]);
    return pairs;
  }
  return item
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part.includes("="))
    .map((part) => {
      const equals = part.indexOf("=");
      return [part.slice(0, equals).trim(), part.slice(equals + 1).trim()];
    });
}

/** A value's atoms as text: a scalar is one, a list its items (nested lists flattened). */
function scalars(value: XlValue): string[] {
  if (typeof value === "string") return [value];
  if (typeof value === "number") return [String(value)];
  return value.flatMap(scalars);
}

function truthy(text: string): boolean {
  return !["", "0", "false", "no", "off"].includes(text.trim().toLowerCase());
}

/** 127.0.0.0/8, ::1 or localhost, optionally followed by `:DISPLAY` (xl's vnclisten form). */
export function isLoopback(address: string): boolean {
  const text = address.trim().toLowerCase();
  if (text === "::1" || text === "[::1]" || /^\[::1\]:\d{1,5}$/.test(text)) return true;
  const host = text.replace(/:\d{1,5}$/, "");
  if (host === "localhost") return true;
  const octets = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return octets !== null && octets.slice(1).every((octet) => Number(octet) <= 255);
}

function show(value: XlValue): string {
  return JSON.stringify(value);
}

function clip(text: string): string {
  const safe = text.replace(
    // eslint-disable-next-line no-control-regex -- replacing control characters is the point
    /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    "?",
  );
  return safe.length > DETAIL_CHARS_MAX ? `${safe.slice(0, DETAIL_CHARS_MAX)}...` : safe;
}

/** Who is importing or editing, and what they allow. */
export interface PolicyActor {
  role: string;
  /** Keys an admin allows by name (`--allow-unsafe KEY`); only an admin may give any. */
  allowUnsafe: readonly string[];
  /**
   * On edit: the findings of the stored file that an admin allowed. The same key with the same
   * value stays allowed through anyone's edit (changing the memory keeps an allowed `pci`);
   * a new or changed value needs an admin again.
   */
  previouslyAllowed?: readonly PolicyFinding[];
}

export interface PolicyDecision {
  /** The keys of the file that go past the policy, by an admin's word (now or before). */
  allowedKeys: string[];
  /** The findings allowed, for the audit log. */
  allowed: PolicyFinding[];
}

/**
 * Refuses the findings nobody allowed: FORBIDDEN, every line with its reason and what to do.
 * Returns what was allowed, for the record and the audit log.
 */
export function enforceDomainPolicy(
  source: string,
  findings: readonly PolicyFinding[],
  actor: PolicyActor,
): PolicyDecision {
  const admin = actor.role === "admin";
  if (!admin && actor.allowUnsafe.length > 0) {
    throw new EtherplaneError(
      "FORBIDDEN",
      `only an admin may allow unsafe keys (${actor.allowUnsafe.join(", ")}); ` +
        "ask an admin to import or edit this domain",
      { params: { field: "allowUnsafe" } },
    );
  }
  const before = new Set((actor.previouslyAllowed ?? []).map(signature));
  const refused: PolicyFinding[] = [];
  const allowed: PolicyFinding[] = [];
  for (const finding of findings) {
    if (before.has(signature(finding))) allowed.push(finding);
    else if (admin && actor.allowUnsafe.includes(finding.key)) allowed.push(finding);
    else refused.push(finding);
  }
  if (refused.length > 0) {
    const lines = listed(
      refused,
      (f) => `${source}: line ${f.line}: \`${f.key}\` refused (${f.detail}): ${f.reason}`,
      "\n",
    );
    const keys = [...new Set(refused.map((f) => f.key))];
    const next = admin
      ? `to allow it, name each key: --allow-unsafe ${keys.join(",")} (the API's allowUnsafe)`
      : "remove these settings, or ask an admin to allow them (--allow-unsafe KEY)";
    throw new EtherplaneError("FORBIDDEN", `${lines}\n${next}; nothing changed`, {
      params: {
        field: "config",
        refused: refused
          .slice(0, FINDINGS_LISTED_MAX)
          .map(({ key, line, reason }) => ({ key, line, reason })),
      },
    });
  }
  return { allowedKeys: [...new Set(allowed.map((f) => f.key))].sort(), allowed };
}

function signature(finding: PolicyFinding): string {
  return `${finding.key}\u0000${finding.detail}`;
}

/** One line for the audit log: which unsafe settings went in, on whose word. */
export function describeAllowed(allowed: readonly PolicyFinding[]): string {
  return listed(allowed, (f) => `${f.key} (line ${f.line}: ${f.detail})`, "; ");
}
