import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { parseDiskSpec, type DiskSpec } from "./disk-spec.js";
import { writeDiskSpec } from "./disk-spec-writer.js";

const base = { legacyPrefixes: [], flags: [], options: {} };

function refused(spec: string, says: string): void {
  assert.throws(
    () => parseDiskSpec(spec),
    (error: unknown) => {
      assert.ok(isEtherplaneError(error, "INVALID_CONFIG"), String(error));
      assert.ok(error.message.startsWith(`disk spec ${JSON.stringify(spec)}: `), error.message);
      assert.ok(error.message.includes(says), error.message);
      return true;
    },
  );
}

describe("parseDiskSpec", () => {
  test("after a legacy prefix the second field is the vdev", () => {
    assert.deepEqual(parseDiskSpec("phy:/dev/xenimages/noc.grid,sda1,w"), {
      ...base,
      target: "/dev/xenimages/noc.grid",
      vdev: "sda1",
      access: "rw",
      legacyPrefixes: ["phy"],
    });
  });

  test("without a prefix the second field is the format", () => {
    assert.deepEqual(parseDiskSpec("/dev/vg/lv,qcow2,xvda,r"), {
      ...base,
      target: "/dev/vg/lv",
      format: "qcow2",
      vdev: "xvda",
      access: "ro",
    });
  });

  test("spaces between parameters are ignored; target= keeps its commas and spaces", () => {
    assert.deepEqual(parseDiskSpec("  vdev=xvda,\taccess=rw,  target=/srv/a, b.img"), {
      ...base,
      target: "/srv/a, b.img",
      vdev: "xvda",
      access: "rw",
    });
  });

  test("access r, ro, w, rw and empty", () => {
    const access = (value: string): unknown =>
      parseDiskSpec(`vdev=a,access=${value},target=/x`).access;
    assert.deepEqual(["r", "ro", "w", "rw", ""].map(access), ["ro", "ro", "rw", "rw", "rw"]);
  });

  test("devtype from devtype=, the cdrom flag, or vdev:cdrom", () => {
    for (const spec of [
      "vdev=hdc,devtype=cdrom,target=/i.iso",
      "cdrom,vdev=hdc,target=/i.iso",
      "/i.iso,raw,hdc:cdrom",
    ]) {
      assert.equal(parseDiskSpec(spec).devtype, "cdrom", spec);
    }
    assert.equal(parseDiskSpec("phy:/dev/x,xvda:disk,w").devtype, "disk");
  });

  test("wrong values say what to write instead", () => {
    refused("phy:/dev/x,xvda,q", "use r, ro, w or rw");
    refused("/dev/x,vmdk,xvda", 'format "vmdk": use one of raw, qcow, qcow2, vhd, empty, qed');
    refused("vdev=a,devtype=floppy,target=/x", "devtype=disk or devtype=cdrom");
    refused("vdev=a,backendtype=nfs,target=/x", "backendtype");
    refused("phy:/dev/x,hdc:floppy,r", "cdrom or disk");
    refused("phy:/dev/x,xvda,w,extra", "too many positional fields");
    refused("foo:/dev/x,xvda,w", "unknown legacy prefix foo:");
    refused("raw:qcow2:/x,xvda,w", "format given twice");
    refused("vdev=a,vdev=b,target=/x", "vdev given twice");
    refused("/dev/x", "no vdev");
    refused("vdev=xvda", "no target");
    refused("", "no vdev");
    refused("phy:/dev/x,xvda,=1", "cannot read");
  });

  test("a spec longer than the limit is refused without echoing all of it", () => {
    assert.throws(() => parseDiskSpec("x".repeat(5000)), {
      message: `disk spec "${"x".repeat(40)}...": longer than 4096 characters`,
    });
  });

  test("an empty CD-ROM drive needs no target", () => {
    assert.deepEqual(parseDiskSpec("vdev=hdc,devtype=cdrom"), {
      ...base,
      vdev: "hdc",
      devtype: "cdrom",
    });
  });

  test("unknown and unmodelled keys are kept in order", () => {
    const spec = parseDiskSpec("vdev=xvda, zeta=1, colo-port=9000, alpha=2, target=/x");
    assert.deepEqual(Object.entries(spec.options), [
      ["zeta", "1"],
      ["colo-port", "9000"],
      ["alpha", "2"],
    ]);
    assert.equal(writeDiskSpec(spec), "vdev=xvda, zeta=1, colo-port=9000, alpha=2, target=/x");
  });

  test("keys named like Object's properties are ordinary keys", () => {
    assert.deepEqual(parseDiskSpec("vdev=a,constructor=1,target=/x").options, { constructor: "1" });
  });
});

describe("writeDiskSpec", () => {
  const roundTrip = (spec: DiskSpec): void =>
    assert.deepEqual(parseDiskSpec(writeDiskSpec(spec)), spec);

  test("legacy specs keep their positional form and prefixes", () => {
    assert.equal(
      writeDiskSpec(parseDiskSpec("tap2:tapdisk:aio:/x.img,xvdc,ro")),
      "tap2:tapdisk:aio:/x.img,xvdc,r",
    );
    assert.equal(
      writeDiskSpec(parseDiskSpec("iscsi:iqn.x:disk1,xvdj,w")),
      "iscsi:iqn.x:disk1,xvdj,w",
    );
    assert.equal(
      writeDiskSpec(parseDiskSpec("phy:/dev/e,hdc:cdrom,r,discard")),
      "phy:/dev/e,hdc,r,devtype=cdrom,discard",
    );
  });

  test("other specs use key=value with target last", () => {
    assert.equal(
      writeDiskSpec(parseDiskSpec("/dev/vg/lv,,xvda,w")),
      "format=raw, vdev=xvda, access=rw, target=/dev/vg/lv",
    );
  });

  test("a legacy target that positional fields cannot hold falls back to key=value", () => {
    const spec: DiskSpec = {
      ...base,
      legacyPrefixes: ["phy"],
      target: "/dev/a,b",
      vdev: "xvda",
      access: "rw",
    };
    assert.equal(writeDiskSpec(spec), "vdev=xvda, access=rw, target=/dev/a,b");
    assert.deepEqual(parseDiskSpec(writeDiskSpec(spec)), { ...spec, legacyPrefixes: [] });
  });

  test("round-trips specs built in code", () => {
    roundTrip({
      ...base,
      target: "/dev/etherd/e1.0",
      vdev: "xvda",
      access: "rw",
      format: "raw",
      backendtype: "phy",
    });
    roundTrip({ ...base, target: "", vdev: "hdc", devtype: "cdrom", access: "ro" });
    roundTrip({
      ...base,
      legacyPrefixes: ["file"],
      target: "/x.img",
      vdev: "xvdb",
      format: "qcow2",
      script: "block-x",
    });
  });

  test("values that would change meaning are refused", () => {
    assert.throws(
      () => writeDiskSpec({ ...base, vdev: "xvda", script: "a,b", target: "/x" }),
      (error: unknown) => isEtherplaneError(error, "INVALID_ARGUMENT"),
    );
  });
});
