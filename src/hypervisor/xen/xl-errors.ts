/**
 * xl's failures, classified by the messages xl and libxl print (seen from Xen 4.17.7 in
 * test/fixtures/xl/guests/, and in tools/xl and tools/libs/light):
 *
 *   NAME is an invalid domain identifier (rc=-6)                 find_domain, xl_utils.c
 *   Domain with name "NAME" already exists.                       libxl__domain_rename
 *   script: Could not find bridge device BR                       vif-bridge hotplug script
 *   Disk vdev=xvda failed to stat: PATH: No such file or ...      libxl__device_disk_set_backend
 *   xc_dom_boot_mem_init: can't allocate ... Out of memory        libxenguest
 *   guest didn't acknowledge control request: -9                  pvcontrol_cb (60 s timeout)
 *
 * Exit statuses carry little (1 for most failures, 3 for `xl create`), so the text decides.
 * Everything unknown is IO_ERROR with xl's error lines in the message.
 */
import { EtherplaneError, type ErrorCode } from "../../foundation/errors.js";
import type { CommandResult } from "../../host/command-runner.js";

const MESSAGE_CHARS_MAX = 1500;

interface Rule {
  pattern: RegExp;
  code: ErrorCode;
  explain: (match: RegExpExecArray, subject: string) => string;
}

const RULES: readonly Rule[] = [
  {
    pattern: /is an invalid domain identifier/,
    code: "NOT_FOUND",
    explain: (_m, subject) => `no guest ${subject} on this host`,
  },
  {
    pattern: /Domain with name "([^"]*)" already exists/,
    code: "CONFLICT",
    explain: (m) => `a guest named ${m[1]} already exists on this host`,
  },
  {
    pattern: /Could not find bridge device (\S+)/,
    code: "UNAVAILABLE",
    explain: (m) => `the bridge ${m[1]} does not exist on this host`,
  },
  {
    pattern: /Disk vdev=(\S+) failed to stat: (.*?): No such file or directory/,
    code: "UNAVAILABLE",
    explain: (m) => `disk ${m[1]}: ${m[2]} does not exist on this host`,
  },
  {
    pattern: /Disk vdev=(\S+).*(unsuitable|failed to stat).*/,
    code: "UNAVAILABLE",
    explain: (m) => `disk ${m[1]} cannot be attached: ${m[0]}`,
  },
  {
    pattern: /unable to add (\w+) devices/,
    code: "UNAVAILABLE",
    explain: (m) => `xl could not attach the guest's ${m[1]} devices`,
  },
  {
    pattern: /Out of memory|Cannot allocate memory|failed to free memory for the domain/,
    code: "UNAVAILABLE",
    explain: () => "not enough free memory on this host for the guest",
  },
  {
    pattern: /didn't acknowledge control request|PV control interface not available/,
    code: "REFUSED",
    explain: (_m, subject) =>
      `guest ${subject} did not answer the request (no PV drivers or ACPI, hung, or already shut down)`,
  },
  {
    pattern: /Not destroying domain 0/,
    code: "REFUSED",
    explain: () => "xl will not destroy Domain-0",
  },
  {
    pattern:
      /ssh: not found|Could not resolve hostname|Connection refused|Host key verification failed|Permission denied \(publickey/,
    code: "UNAVAILABLE",
    explain: (m) => `the migration transport failed: ${m[0]}`,
  },
  {
    pattern: /Failed to read config file|Config parse error|[Ss]yntax error/,
    code: "INVALID_CONFIG",
    explain: () => "xl could not read the guest's configuration",
  },
];

/**
 * The error for a failed xl call. `subject` names the guest (or host) the call was about.
 * The message keeps xl's own error lines, which name the exact cause.
 */
export function xlFailure(
  argv: readonly string[],
  result: CommandResult,
  subject: string,
): EtherplaneError {
  const text = `${result.stderr}\n${result.stdout}`;
  const detail = errorLines(result);
  for (const rule of RULES) {
    const match = rule.pattern.exec(text);
    if (match !== null) {
      return new EtherplaneError(rule.code, `${rule.explain(match, subject)}: ${detail}`, {
        params: { argv: [...argv], exitCode: result.code, subject },
      });
    }
  }
  return new EtherplaneError(
    "IO_ERROR",
    `${argv.join(" ")} failed (exit ${result.code}): ${detail}`,
    { params: { argv: [...argv], exitCode: result.code, subject } },
  );
}

/** xl's error lines (libxl's `error:` lines first), bounded, for messages. */
export function errorLines(result: CommandResult): string {
  const lines = result.stderr
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");
  const errors = lines.filter((line) => /error|fail|invalid|not|unable|cannot/i.test(line));
  const chosen = errors.length > 0 ? errors : lines;
  const text = chosen.join(" | ") || `(no output, exit ${result.code})`;
  return text.length > MESSAGE_CHARS_MAX ? `${text.slice(0, MESSAGE_CHARS_MAX)}...` : text;
}
