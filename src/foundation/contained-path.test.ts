import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { childPath } from "./contained-path.js";
import { isEtherplaneError } from "./errors.js";

describe("childPath", () => {
  it("joins a plain name, with its prefix and suffix", () => {
    assert.equal(childPath("/run/ep", "web1"), "/run/ep/web1");
    assert.equal(childPath("/run/ep/", "web1", { suffix: ".cfg" }), "/run/ep/web1.cfg");
    assert.equal(
      childPath("/var/log/xen", "a.b", { prefix: "guest-", suffix: ".log" }),
      "/var/log/xen/guest-a.b.log",
    );
  });

  it("refuses every name that is not one component of the directory", () => {
    for (const name of ["", ".", "..", "../../../../etc/x", "a/b", "/etc/x", "a\0b"]) {
      assert.throws(
        () => childPath("/run/ep", name),
        (e) => isEtherplaneError(e, "INVALID_ARGUMENT"),
        name,
      );
    }
    assert.throws(() => childPath("/d", "..", { suffix: "" }), /not a file name inside \/d/);
  });
});
