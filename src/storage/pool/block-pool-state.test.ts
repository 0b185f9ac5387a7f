import assert from "node:assert/strict";
import { test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { formatBlockPoolState, parseBlockPoolState, type BlockClaims } from "./block-pool-state.js";

test("a state survives format and parse", () => {
  const claims: BlockClaims = new Map([
    ["vol-b", { device: "/dev/vg0/b", requestedBytes: 4096, state: "copying" }],
    ["constructor", { device: "/dev/vg0/a", requestedBytes: 512, state: "ready" }],
  ]);
  const text = formatBlockPoolState(claims);
  assert.deepEqual(parseBlockPoolState(text, "state.json"), claims);
  assert.ok(text.indexOf("constructor") < text.indexOf("vol-b"), "sorted, for readable diffs");
  assert.deepEqual(parseBlockPoolState('{"version":1,"volumes":{}}', "s"), new Map());
});

test("a damaged or hostile state is refused with the file and the reason", () => {
  const claim = (fields: object) =>
    JSON.stringify({
      version: 1,
      volumes: { "vol-a": { device: "/dev/a", requestedBytes: 512, state: "ready", ...fields } },
    });
  const cases: Array<[string, RegExp]> = [
    ["", /not JSON/],
    ['{"version":1,"vol', /not JSON/],
    ["[]", /version 1/],
    ['{"version":2,"volumes":{}}', /version 1/],
    ['{"version":1,"volumes":[]}', /version 1/],
    ['{"version":1,"volumes":{"__proto__":{}}}', /volume id/],
    ['{"version":1,"volumes":{"A":{}}}', /volume id/],
    [claim({ device: "dev/a" }), /needs device/],
    [claim({ device: 7 }), /needs device/],
    [claim({ requestedBytes: -1 }), /needs device/],
    [claim({ requestedBytes: 1e300 }), /needs device/],
    [claim({ state: "done" }), /needs device/],
    [
      '{"version":1,"volumes":{"a":{"device":"/dev/x","requestedBytes":512,"state":"ready"},' +
        '"b":{"device":"/dev/x","requestedBytes":512,"state":"ready"}}}',
      /claimed by both a and b/,
    ],
  ];
  for (const [text, reason] of cases) {
    assert.throws(
      () => parseBlockPoolState(text, "/var/lib/ep/pool.json"),
      (e) =>
        isEtherplaneError(e, "INVALID_CONFIG") &&
        e.message.includes("/var/lib/ep/pool.json") &&
        reason.test(e.message),
      text,
    );
  }
});
