/**
 * Where the guest is after `xl migrate`, from xl's messages (as tools/xl/xl_migrate.c and
 * libxenguest's xg_sr_save.c print them in Xen 4.17).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { receiveFailure, senderPhase, sendFailure, sendOutcome } from "./xl-migrate-outcome.js";

const argv = ["xl", "migrate", "-s", "helper", "7", "/run/s.sock"];
const result = (code: number, stderr: string) => ({ code, stdout: "", stderr });

test("outcomes: moved only after xl's success, undefined when the final handshake broke", () => {
  const moved = result(
    0,
    "migration sender: Target has acknowledged transfer.\nmigration sender: Giving target permission to start.\nmigration sender: Target reports successful startup.\nMigration successful.\n",
  );
  assert.equal(sendOutcome(moved), "moved");
  assert.equal(sendOutcome(result(1, "Migration failed, resuming at sender.\n")), "stayed");
  // Exit 0 without the success line (e.g. usage paths) is not a move.
  assert.equal(sendOutcome(result(0, "")), "stayed");
  const undefinedState = result(
    1,
    "migration sender: Giving target permission to start.\n** Migration failed during final handshake **\nDomain state is now undefined !\n",
  );
  assert.equal(sendOutcome(undefinedState), "undefined");
  const error = sendFailure(argv, undefinedState, "ep-run");
  assert.equal(error.code, "CONFLICT");
  assert.match(
    error.message,
    /suspended here as ep-run--migratedaway and may run on the destination/,
  );
  assert.equal(error.params?.["outcome"], "undefined");
});

test("causes: each says what happened and that the guest runs on here", () => {
  const cases: Array<[string, string, RegExp]> = [
    [
      "xc: error: Failed to enable logdirty: 95 = Operation not supported: Internal error\nMigration failed, resuming at sender.",
      "UNAVAILABLE",
      /dirty pages.*--offline; ep-run runs on here: .*logdirty/,
    ],
    [
      "libxl: error: libxl_dom_suspend.c:...: guest didn't suspend\nMigration failed, failed to suspend at sender.",
      "REFUSED",
      /did not suspend.*ep-run runs on here/,
    ],
    [
      "migration receiver stream contained unexpected data instead of banner\n(command run was: exec x )",
      "PROTOCOL",
      /transport did not reach xl migrate-receive/,
    ],
    [
      "migration sender: Target reports startup failure (status code 3).\nMigration failed due to problems at target.",
      "UNAVAILABLE",
      /destination could not start the guest/,
    ],
    [
      "No config file stored for running domain and none supplied - cannot migrate.",
      "INVALID_CONFIG",
      /no configuration/,
    ],
    ["Migration failed, resuming at sender.", "UNAVAILABLE", /transfer broke off.*runs on here/],
    [
      "ep-run is an invalid domain identifier (rc=-6)",
      "NOT_FOUND",
      /no guest ep-run.*runs on here/,
    ],
  ];
  for (const [stderr, code, pattern] of cases) {
    const error = sendFailure(argv, result(1, stderr), "ep-run");
    assert.equal(error.code, code, stderr);
    assert.match(error.message, pattern);
    assert.equal(error.params?.["outcome"], "stayed");
  }
});

test("phases and the receiver's failure", () => {
  assert.equal(
    senderPhase("migration sender: Target has acknowledged transfer."),
    "state transferred",
  );
  assert.equal(senderPhase("Saving to migration stream new xl format"), null);
  const error = receiveFailure(
    ["xl", "migrate-receive"],
    result(
      1,
      "libxl: error: libxl_create.c: cannot add disk\nmigration target: Domain creation failed (code -3).",
    ),
    "ep-run",
  );
  assert.equal(error.code, "UNAVAILABLE");
  assert.match(error.message, /guest ep-run did not arrive: .*Domain creation failed/);
});
