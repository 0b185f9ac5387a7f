/**
 * Reads the TAP report of a test run and fails when a test was skipped for a reason other than
 * one marked "by design:" (an opt-in capture, a kernel feature checked elsewhere). In CI an
 * integration test that skips because root or a tool is missing would make the run green
 * without running it: scripts/test.sh runs this when CI=true.
 *
 * Usage: node dist/test/tools/check-skips.js REPORT.tap
 */
import { readFileSync } from "node:fs";

/** The prefix of a skip reason that is expected everywhere, CI included. */
export const BY_DESIGN_PREFIX = "by design: ";

export interface SkipReport {
  byDesign: number;
  /** "test name: reason" of each unexpected skip. */
  unexpected: string[];
}

/** The skipped tests of a TAP report (node's tap reporter), split by reason. */
export function readSkips(tap: string): SkipReport {
  const report: SkipReport = { byDesign: 0, unexpected: [] };
  for (const line of tap.split("\n")) {
    // e.g. "    ok 3 - a test name # SKIP needs root"
    const match = /^\s*ok \d+ - (.*?) # SKIP(?: (.*))?$/.exec(line);
    if (!match) continue;
    const reason = (match[2] ?? "").trim();
    if (reason.startsWith(BY_DESIGN_PREFIX)) report.byDesign += 1;
    else report.unexpected.push(`${match[1]}: ${reason || "(no reason given)"}`);
  }
  return report;
}

function main(file: string | undefined): number {
  if (file === undefined) {
    console.error("usage: check-skips REPORT.tap");
    return 2;
  }
  const { byDesign, unexpected } = readSkips(readFileSync(file, "utf8"));
  if (unexpected.length > 0) {
    console.error(`check-skips: ${unexpected.length} test(s) skipped unexpectedly in CI:`);
    for (const entry of unexpected) console.error(`  - ${entry}`);
    console.error(
      `check-skips: install what they need (sudo ./scripts/install.sh, run as root); an opt-in test gives a reason starting with "${BY_DESIGN_PREFIX}"`,
    );
    return 1;
  }
  console.log(`check-skips: no unexpected skips (${byDesign} by design)`);
  return 0;
}

if (process.argv[1]?.endsWith("check-skips.js")) process.exitCode = main(process.argv[2]);
