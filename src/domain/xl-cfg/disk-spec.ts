/**
 * Disk specs (xl-disk-configuration(5)), read as libxlu's disk lexer reads them
 * (tools/libs/util/libxlu_disk_l.l):
 *
 * - `key=value` parameters in any order; `target=` takes the rest of the string, commas and all,
 *   so it comes last. Bare flags: `cdrom`, `discard`, `direct-io-safe`, ...
 * - positional parameters `target,format,vdev,access`; `vdev` may carry `:cdrom` or `:disk`.
 * - legacy xm prefixes before the target (`phy:`, `file:`, `tap:aio:`, `tap2:tapdisk:aio:`,
 *   `raw:`/`qcow2:`/`vhd:` which set the format, `iscsi:`/`nbd:`/`drbd:` which set the script).
 *   After a legacy prefix there is no format field: the second field is the vdev
 *   (`phy:/dev/xenimages/noc.grid,sda1,w`).
 */
import { EtherplaneError } from "../../foundation/errors.js";
import { XL_CFG_LIMITS } from "./types.js";

export const DISK_FORMATS = ["raw", "qcow", "qcow2", "vhd", "empty", "qed"] as const;
export type DiskFormat = (typeof DISK_FORMATS)[number];
export const DISK_BACKEND_TYPES = ["phy", "tap", "qdisk", "standalone"] as const;
export type DiskBackendType = (typeof DISK_BACKEND_TYPES)[number];
export const DISK_SPECIFICATIONS = ["xen", "virtio"] as const;
export type DiskSpecification = (typeof DISK_SPECIFICATIONS)[number];
export type DiskAccess = "ro" | "rw";
export type DiskDevtype = "disk" | "cdrom";

/** Flags libxlu knows (besides `cdrom`, which sets `devtype`). */
export const DISK_FLAGS = [
  "direct-io-safe",
  "discard",
  "no-discard",
  "colo",
  "no-colo",
  "trusted",
  "untrusted",
] as const;

/** `key=value` parameters libxlu knows that this model keeps in `options` as text. */
export const DISK_OPTION_KEYS = [
  "grant_usage",
  "colo-host",
  "colo-port",
  "colo-export",
  "active-disk",
  "hidden-disk",
] as const;

const FORMAT_PREFIXES = new Set(["raw", "qcow", "qcow2", "vhd"]);
const SCRIPT_PREFIXES = new Set(["iscsi", "nbd", "enbd", "drbd"]);
const PLAIN_PREFIXES = new Set(["tapdisk", "tap", "tap2", "aio", "ioemu", "file", "phy"]);

export interface DiskSpec {
  /** The backing path (`pdev_path`); `""` for an empty CD-ROM drive. */
  readonly target?: string;
  readonly vdev: string;
  readonly format?: DiskFormat;
  readonly access?: DiskAccess;
  readonly devtype?: DiskDevtype;
  readonly script?: string;
  readonly backend?: string;
  readonly backendtype?: DiskBackendType;
  readonly specification?: DiskSpecification;
  /** Legacy xm prefixes in order, e.g. `["tap", "aio"]`; kept so the spec is written back alike. */
  readonly legacyPrefixes: readonly string[];
  readonly flags: readonly string[];
  /** Other `key=value` parameters, including keys this model does not know, in order. */
  readonly options: Readonly<Record<string, string>>;
}

interface Draft {
  target?: string;
  vdev?: string;
  format?: DiskFormat;
  access?: DiskAccess;
  devtype?: DiskDevtype;
  script?: string;
  backend?: string;
  backendtype?: DiskBackendType;
  specification?: DiskSpecification;
  legacyPrefixes: string[];
  flags: string[];
  options: Record<string, string>;
}

const KEY_VALUE = /^([a-z][-_a-z0-9]*)=([^,]*),?/;
const PREFIX = /^([a-z][a-z0-9]*):/;

/** Parses one disk spec string. Throws INVALID_CONFIG naming the spec and the problem. */
export function parseDiskSpec(spec: string): DiskSpec {
  if (spec.length > XL_CFG_LIMITS.specBytesMax) {
    throw diskError(
      spec.slice(0, 40) + "...",
      `longer than ${XL_CFG_LIMITS.specBytesMax} characters`,
    );
  }
  const draft: Draft = { legacyPrefixes: [], flags: [], options: {} };
  let accessSet = false;
  let pos = 0;
  const fail = (message: string): never => {
    throw diskError(spec, message);
  };
  const setOnce = <K extends keyof Draft>(field: K, value: Draft[K], what: string): void => {
    if (draft[field] !== undefined && draft[field] !== value) fail(`${what} given twice`);
    draft[field] = value;
  };

  while (pos < spec.length) {
    while (pos < spec.length && " \t\n".includes(spec[pos] as string)) pos++;
    if (pos >= spec.length) break;
    const rest = spec.slice(pos);

    if (rest.startsWith("target=")) {
      setOnce("target", stripComma(rest.slice("target=".length)), "target");
      break;
    }
    const keyValue = KEY_VALUE.exec(rest);
    if (keyValue !== null) {
      pos += keyValue[0].length;
      keyValueParameter(draft, keyValue[1] as string, keyValue[2] as string, setOnce, fail);
      continue;
    }
    const word = /^[^,]*/.exec(rest)?.[0] ?? "";
    if (word === "cdrom" || (DISK_FLAGS as readonly string[]).includes(word)) {
      pos += word.length + (rest[word.length] === "," ? 1 : 0);
      if (word === "cdrom") draft.devtype = "cdrom";
      else if (!draft.flags.includes(word)) draft.flags.push(word);
      continue;
    }
    const prefix = PREFIX.exec(rest);
    if (prefix !== null && legacyPrefix(draft, prefix[1] as string, rest, setOnce, fail)) {
      pos += prefix[0].length;
      continue;
    }
    const positional = /^[^=,]*,|^[^=,]+/.exec(rest);
    if (positional === null) {
      fail(
        `cannot read ${JSON.stringify(rest)}: a parameter is key=value, a flag, or a positional field without =`,
      );
    }
    const field = stripComma((positional as RegExpExecArray)[0]);
    pos += (positional as RegExpExecArray)[0].length;

    if (draft.target === undefined) {
      draft.target = field;
    } else if (draft.legacyPrefixes.length === 0 && draft.format === undefined) {
      if (draft.target === "" && field.includes(":")) {
        vdevAndDevtype(draft, field, setOnce, fail);
        draft.format = "empty";
      } else {
        draft.format = diskFormat(field, fail);
      }
    } else if (draft.vdev === undefined) {
      if (field.includes(":")) vdevAndDevtype(draft, field, setOnce, fail);
      else draft.vdev = field;
    } else if (!accessSet) {
      accessSet = true;
      draft.access = diskAccess(field, fail);
    } else {
      fail(
        `too many positional fields at ${JSON.stringify(field)} (target,format,vdev,access at most)`,
      );
    }
  }

  if (draft.vdev === undefined || draft.vdev === "") {
    fail("no vdev: name the guest's device, e.g. vdev=xvda (or target,format,vdev,access)");
  }
  if (draft.target === undefined && draft.devtype !== "cdrom") {
    fail(
      "no target: give the backing path, e.g. target=/dev/etherd/e1.0 (last, as it may hold commas)",
    );
  }
  return finish(draft);
}

function keyValueParameter(
  draft: Draft,
  key: string,
  value: string,
  setOnce: <K extends keyof Draft>(field: K, value: Draft[K], what: string) => void,
  fail: (message: string) => never,
): void {
  switch (key) {
    case "vdev":
      return setOnce("vdev", value, "vdev");
    case "format":
      return setOnce("format", diskFormat(value, fail), "format");
    case "access":
      return setOnce("access", diskAccess(value, fail), "access");
    case "devtype":
      if (value !== "cdrom" && value !== "disk")
        fail(`devtype=${value}: use devtype=disk or devtype=cdrom`);
      return setOnce("devtype", value, "devtype");
    case "script":
      return setOnce("script", value, "script");
    case "backend":
      return setOnce("backend", value, "backend");
    case "backendtype":
      return setOnce(
        "backendtype",
        oneOf(value, DISK_BACKEND_TYPES, "backendtype", fail),
        "backendtype",
      );
    case "specification":
      return setOnce(
        "specification",
        oneOf(value, DISK_SPECIFICATIONS, "specification", fail),
        "specification",
      );
    default:
      if (Object.hasOwn(draft.options, key) && draft.options[key] !== value)
        fail(`${key} given twice`);
      draft.options[key] = value;
  }
}

/** True when `name:` is a legacy prefix it consumed; throws on an unknown one (libxlu does too). */
function legacyPrefix(
  draft: Draft,
  name: string,
  rest: string,
  setOnce: <K extends keyof Draft>(field: K, value: Draft[K], what: string) => void,
  fail: (message: string) => never,
): boolean {
  if (FORMAT_PREFIXES.has(name)) setOnce("format", name as DiskFormat, "format");
  else if (SCRIPT_PREFIXES.has(name)) setOnce("script", `block-${name}`, "script");
  else if (!PLAIN_PREFIXES.has(name)) {
    const after = rest[name.length + 1];
    // `hdc:cdrom` is a vdev with a device type, not a prefix: libxlu only treats `word:` followed
    // by something other than a letter or digit as an (unknown) prefix.
    if (after !== undefined && /[a-z0-9]/.test(after)) return false;
    fail(
      `unknown legacy prefix ${name}: (known: phy, file, tap, tap2, tapdisk, aio, ioemu, raw, qcow, qcow2, vhd, iscsi, nbd, enbd, drbd)`,
    );
  }
  draft.legacyPrefixes.push(name);
  return true;
}

function vdevAndDevtype(
  draft: Draft,
  field: string,
  setOnce: <K extends keyof Draft>(field: K, value: Draft[K], what: string) => void,
  fail: (message: string) => never,
): void {
  const colon = field.lastIndexOf(":");
  const devtype = field.slice(colon + 1);
  if (devtype !== "cdrom" && devtype !== "disk") {
    fail(`${JSON.stringify(field)}: the type after the vdev's colon must be cdrom or disk`);
  }
  setOnce("vdev", field.slice(0, colon), "vdev");
  draft.devtype = devtype;
}

function diskFormat(value: string, fail: (message: string) => never): DiskFormat {
  // An empty format field means raw (setformat, libxlu_disk_l.l).
  return value === "" ? "raw" : oneOf(value, DISK_FORMATS, "format", fail);
}

function diskAccess(value: string, fail: (message: string) => never): DiskAccess {
  if (value === "r" || value === "ro") return "ro";
  if (value === "w" || value === "rw" || value === "") return "rw";
  return fail(`access ${JSON.stringify(value)}: use r, ro, w or rw`);
}

function oneOf<T extends string>(
  value: string,
  allowed: readonly T[],
  what: string,
  fail: (message: string) => never,
): T {
  if (!(allowed as readonly string[]).includes(value)) {
    fail(`${what} ${JSON.stringify(value)}: use one of ${allowed.join(", ")}`);
  }
  return value as T;
}

function stripComma(text: string): string {
  return text.endsWith(",") ? text.slice(0, -1) : text;
}

/** A DiskSpec without undefined fields, so that equal specs compare equal. */
function finish(draft: Draft): DiskSpec {
  const spec: Record<string, unknown> = {};
  for (const key of [
    "target",
    "vdev",
    "format",
    "access",
    "devtype",
    "script",
    "backend",
    "backendtype",
    "specification",
  ] as const) {
    if (draft[key] !== undefined) spec[key] = draft[key];
  }
  spec.legacyPrefixes = draft.legacyPrefixes;
  spec.flags = draft.flags;
  spec.options = draft.options;
  return spec as unknown as DiskSpec;
}

export function diskError(spec: string, message: string): EtherplaneError {
  return new EtherplaneError("INVALID_CONFIG", `disk spec ${JSON.stringify(spec)}: ${message}`, {
    params: { spec },
  });
}
