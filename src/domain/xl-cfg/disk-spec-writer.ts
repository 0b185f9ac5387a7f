/**
 * Writes a DiskSpec back as a string libxlu reads to the same spec. A spec read with legacy
 * prefixes is written in the same positional form (`phy:/dev/vg/lv,xvda,w`), so imported xm files
 * keep their look; any other spec in the key=value form xl-disk-configuration(5) recommends, with
 * `target=` last.
 */
import { EtherplaneError } from "../../foundation/errors.js";
import type { DiskSpec } from "./disk-spec.js";

export function writeDiskSpec(spec: DiskSpec): string {
  for (const [key, value] of Object.entries(spec.options)) checkValue(key, value);
  return canWriteLegacy(spec) ? writeLegacy(spec) : writeKeyValue(spec);
}

function writeKeyValue(spec: DiskSpec): string {
  const parts: string[] = [];
  const add = (key: string, value: string | undefined): void => {
    if (value === undefined) return;
    checkValue(key, value);
    parts.push(`${key}=${value}`);
  };
  add("format", spec.format);
  add("vdev", spec.vdev);
  add("access", spec.access);
  add("devtype", spec.devtype);
  add("backendtype", spec.backendtype);
  add("backend", spec.backend);
  add("specification", spec.specification);
  add("script", spec.script);
  for (const [key, value] of Object.entries(spec.options)) parts.push(`${key}=${value}`);
  parts.push(...spec.flags);
  // target= takes the rest of the string, so it must be last (libxlu_disk_l.l).
  if (spec.target !== undefined) parts.push(`target=${spec.target}`);
  return parts.join(", ");
}

function writeLegacy(spec: DiskSpec): string {
  const prefixes = spec.legacyPrefixes;
  const fields = [`${prefixes.join(":")}:${spec.target ?? ""}`, spec.vdev];
  if (spec.access !== undefined) fields.push(spec.access === "ro" ? "r" : "w");
  const formatImplied = prefixes.includes(spec.format ?? "");
  const scriptImplied = prefixes.some((prefix) => spec.script === `block-${prefix}`);
  const extra: string[] = [];
  if (spec.format !== undefined && !formatImplied) extra.push(`format=${spec.format}`);
  if (spec.devtype !== undefined) extra.push(`devtype=${spec.devtype}`);
  if (spec.backendtype !== undefined) extra.push(`backendtype=${spec.backendtype}`);
  if (spec.backend !== undefined) extra.push(`backend=${spec.backend}`);
  if (spec.specification !== undefined) extra.push(`specification=${spec.specification}`);
  if (spec.script !== undefined && !scriptImplied) extra.push(`script=${spec.script}`);
  for (const [key, value] of Object.entries(spec.options)) extra.push(`${key}=${value}`);
  extra.push(...spec.flags);
  return [...fields, ...extra].join(",");
}

/** Positional fields cannot hold `,` or `=`, and a target must not look like another prefix. */
function canWriteLegacy(spec: DiskSpec): boolean {
  if (spec.legacyPrefixes.length === 0) return false;
  const target = spec.target ?? "";
  const safe = (text: string): boolean => !/[,=]/.test(text) && !/^\s/.test(text);
  return (
    safe(target) &&
    !/^[a-z][a-z0-9]*:/.test(target) &&
    safe(spec.vdev) &&
    !spec.vdev.includes(":") &&
    spec.vdev !== "" &&
    ![
      "cdrom",
      "discard",
      "no-discard",
      "colo",
      "no-colo",
      "trusted",
      "untrusted",
      "direct-io-safe",
    ].includes(spec.vdev) &&
    [spec.backend, spec.script].every((value) => value === undefined || safe(value))
  );
}

function checkValue(key: string, value: string): void {
  if (value.includes(",") || /^\s/.test(value)) {
    throw new EtherplaneError(
      "INVALID_ARGUMENT",
      `cannot write disk spec: ${key}=${JSON.stringify(value)} holds a comma or leading space, ` +
        "which only target= may hold",
    );
  }
}
