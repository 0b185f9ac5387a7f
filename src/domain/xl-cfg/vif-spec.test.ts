import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { parseVifSpec, writeVifSpec } from "./vif-spec.js";

describe("parseVifSpec", () => {
  test("the seed's vif, with a space after the comma", () => {
    assert.deepEqual(parseVifSpec("mac=00:16:3E:00:00:13, bridge=xenbr1"), {
      mac: "00:16:3E:00:00:13",
      bridge: "xenbr1",
      options: {},
      flags: [],
    });
  });

  test("the empty string is a vif with defaults", () => {
    assert.deepEqual(parseVifSpec(""), { options: {}, flags: [] });
  });

  test("unknown keys and flags are kept in order and written back", () => {
    const spec = parseVifSpec("bridge=xenbr0,zeta=1,trusted,alpha=x y");
    assert.deepEqual(Object.entries(spec.options), [
      ["zeta", "1"],
      ["alpha", "x y"],
    ]);
    assert.deepEqual(spec.flags, ["trusted"]);
    assert.equal(writeVifSpec(spec), "bridge=xenbr0,zeta=1,alpha=x y,trusted");
    assert.deepEqual(parseVifSpec(writeVifSpec(spec)), spec);
  });

  test("known keys are written in a fixed order", () => {
    assert.equal(
      writeVifSpec(parseVifSpec("bridge=xenbr1, model=e1000, mac=00:16:3e:00:00:01")),
      "mac=00:16:3e:00:00:01,bridge=xenbr1,model=e1000",
    );
  });

  test("bad values say what to write", () => {
    const refused = (spec: string, says: string): void =>
      assert.throws(
        () => parseVifSpec(spec),
        (error: unknown) =>
          isEtherplaneError(error, "INVALID_CONFIG") && error.message.includes(says),
      );
    refused("mac=00:16:3E:00:13", "six pairs of hex digits");
    refused("mac=zz:16:3E:00:00:13", "six pairs");
    refused("mtu=big", "mtu=1500");
    refused("bridge=a, bridge=b", "bridge given twice");
    refused("Bridge=a", "is not a key");
    refused("no spaces allowed", "neither key=value nor a flag");
    refused("=x", "is not a key");
    refused("x".repeat(5000), "longer than");
  });
});
