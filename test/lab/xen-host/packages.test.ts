import assert from "node:assert/strict";
import { test } from "node:test";
import { parseAptDepends } from "./packages.js";

// `apt-cache depends --no-recommends ... xenstore-utils xen-utils-common` on Debian 12.
const aptOutput = `xenstore-utils
  Depends: libc6
  Depends: libxenstore4
  Breaks: xen-utils-common
xen-utils-common
 |Depends: sysvinit-utils
  Depends: lsb-base
    sysvinit-utils
  Depends: <python3:any>
    python3
  Depends: libxenhypfs1
  Depends: libxenstore4
`;

test("reads Depends per package, alternatives included, virtual packages and Breaks left out", () => {
  const depends = parseAptDepends(aptOutput);
  assert.deepEqual(depends.get("xenstore-utils"), ["libc6", "libxenstore4"]);
  assert.deepEqual(depends.get("xen-utils-common"), [
    "sysvinit-utils",
    "lsb-base",
    "libxenhypfs1",
    "libxenstore4",
  ]);
  assert.equal(depends.size, 2);
});

test("a Depends line before any package header is dropped", () => {
  assert.equal(parseAptDepends("").size, 0);
  assert.deepEqual([...parseAptDepends("  Depends: orphan\nbash\n").entries()], [["bash", []]]);
});
