/** The controller's limit flags: defaults, values, and out-of-bound values refused by name. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AUDIT_LIMITS_DEFAULT } from "../../cluster/controller/audit-log.js";
import { CONSOLE_LIMITS_DEFAULT } from "../../cluster/controller/console-broker.js";
import { isEtherplaneError } from "../../foundation/errors.js";
import { parseLimitFlags } from "./limit-flags.js";

test("audit retention flags: defaults, days and rows, and bad values named with the fix", () => {
  assert.deepEqual(parseLimitFlags({}, "u"), { audit: AUDIT_LIMITS_DEFAULT });
  assert.deepEqual(
    parseLimitFlags({ "audit-max-age-days": "7", "audit-max-rows": "5000" }, "u").audit,
    { ...AUDIT_LIMITS_DEFAULT, retentionMs: 7 * 24 * 3600 * 1000, retentionRowsMax: 5000 },
  );
  for (const [flag, value] of [
    ["audit-max-age-days", "0"],
    ["audit-max-age-days", "1.5"],
    ["audit-max-age-days", "99999999"],
    ["audit-max-rows", "-3"],
    ["audit-max-rows", "lots"],
  ] as const)
    assert.throws(
      () => parseLimitFlags({ [flag]: value }, "u"),
      (error) =>
        isEtherplaneError(error) &&
        error.code === "INVALID_ARGUMENT" &&
        error.message.startsWith(`--${flag} ${value}: give a whole number from 1 to `),
    );
});

test("--console-agent-wait-ms: the console broker's wait for a slow agent, bounded", () => {
  assert.equal(parseLimitFlags({}, "u").consoles, undefined, "the broker keeps its default");
  assert.deepEqual(parseLimitFlags({ "console-agent-wait-ms": "120000" }, "u").consoles, {
    ...CONSOLE_LIMITS_DEFAULT,
    agentWaitMs: 120_000,
  });
  for (const value of ["999", "600001", "2.5", "soon"])
    assert.throws(
      () => parseLimitFlags({ "console-agent-wait-ms": value }, "u"),
      (error) =>
        isEtherplaneError(error) &&
        error.code === "INVALID_ARGUMENT" &&
        error.message.startsWith(
          `--console-agent-wait-ms ${value}: give a whole number from 1000 to 600000`,
        ),
    );
});
