/**
 * What the end-to-end domain tests need beyond the guest kit: a root filesystem init that leaves
 * a marker of every boot in the volume, and `xl list` rows read back by position.
 */
import assert from "node:assert/strict";
import { XL_LIST_HEADER } from "../../../src/cli/output/xl-list.js";

/**
 * The guest's /sbin/init snippet: counts boots in /bootcount, appends `etherplane-marker
 * boot=N` to /marker, syncs, prints `EP-BOOT N`; powers off on the first boot if asked.
 */
export function bootMarkerScript(options: { poweroffOnFirstBoot: boolean }): string {
  return `
n=$(( $(cat /bootcount 2>/dev/null || echo 0) + 1 ))
echo "$n" > /bootcount
echo "etherplane-marker boot=$n" >> /marker
sync
echo "EP-BOOT $n"
${options.poweroffOnFirstBoot ? 'if [ "$n" = 1 ]; then poweroff -f; fi' : ""}
`;
}

/** The markers of boots 1..count, as /marker holds them. */
export function bootMarkers(count: number): RegExp {
  const lines = Array.from({ length: count }, (_, i) => `etherplane-marker boot=${i + 1}`);
  return new RegExp(lines.join("\\n"));
}

/** The fields of `name`'s row in `xl list` output (ours or xl's), read by position. */
export function xlRow(output: string, name: string): string[] {
  const lines = output.trimEnd().split("\n");
  assert.equal(lines[0], XL_LIST_HEADER, "the header is xl's, tabs included");
  const line = lines.find((l) => l.startsWith(`${name} `));
  assert.ok(line, `no row for ${name} in:\n${output}`);
  const match = /^(.{40}) (.{5}) (.{5}) (.{5}) {5}(.{6}) {2}(.{8})$/.exec(line);
  assert.ok(match, `not in xl list's layout: ${JSON.stringify(line)}`);
  return match.slice(1).map((f) => f.trim());
}
