import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseXlConfig, readXlDomain, xlStringList } from "../../domain/xl-cfg/index.js";
import { isEtherplaneError, type ErrorCode } from "../../foundation/errors.js";
import type { GuestSpec } from "../driver.js";
import { buildGuestXlConfig } from "./guest-config.js";

const spec: GuestSpec = {
  name: "web1",
  uuid: "6F1C2A40-5B7E-4C1D-9A2E-000000000001",
  memoryMiB: 512,
  vcpus: 2,
  boot: {
    kind: "kernel",
    kernel: "/boot/vmlinuz-6.1",
    ramdisk: "/boot/initrd-6.1",
    cmdline: "root=/dev/xvda1 ro console=hvc0",
  },
  disks: [
    { vdev: "xvda", source: { kind: "path", path: "/dev/etherd/e1.0" }, readOnly: false },
    { vdev: "xvdb", source: { kind: "path", path: "/srv/images/swap.img" }, readOnly: true },
  ],
  vifs: [{ mac: "00:16:3E:12:34:56", bridge: "xenbr0" }],
};

function refused(code: ErrorCode, build: () => unknown, pattern: RegExp): void {
  assert.throws(build, (error: unknown) => {
    assert.ok(isEtherplaneError(error, code), String(error));
    assert.match(error.message, pattern);
    return true;
  });
}

describe("the xl.cfg the xen driver writes", () => {
  test("from a spec alone: the exact file", () => {
    assert.equal(
      buildGuestXlConfig(spec),
      `# Written by etherplane's xen driver for guest web1: the administrator's keys,
# with name, uuid, memory, vcpus, boot, disk, vif, dm_restrict and on_* set by the agent.
name = "web1"
uuid = "6f1c2a40-5b7e-4c1d-9a2e-000000000001"
memory = 512
vcpus = 2
type = "pv"
kernel = "/boot/vmlinuz-6.1"
ramdisk = "/boot/initrd-6.1"
cmdline = "root=/dev/xvda1 ro console=hvc0"
disk = [
    "phy:/dev/etherd/e1.0,xvda,w",
    "format=raw, vdev=xvdb, access=ro, target=/srv/images/swap.img",
]
vif = [ "mac=00:16:3e:12:34:56,bridge=xenbr0" ]
dm_restrict = 1
on_poweroff = "preserve"
on_reboot = "preserve"
on_crash = "preserve"
on_watchdog = "preserve"
`,
    );
  });

  test("the codec reads back what the spec says", () => {
    const domain = readXlDomain(parseXlConfig(buildGuestXlConfig(spec)));
    assert.equal(domain.name, "web1");
    assert.equal(domain.memoryMiB, 512);
    assert.equal(domain.vcpus, 2);
    assert.deepEqual(
      domain.disks.map((d) => [d.vdev, d.target, d.access]),
      [
        ["xvda", "/dev/etherd/e1.0", "rw"],
        ["xvdb", "/srv/images/swap.img", "ro"],
      ],
    );
    assert.deepEqual(
      domain.vifs.map((v) => [v.mac, v.bridge]),
      [["00:16:3e:12:34:56", "xenbr0"]],
    );
    assert.deepEqual(
      [domain.onPoweroff, domain.onReboot, domain.onCrash],
      ["preserve", "preserve", "preserve"],
    );
  });

  test("starts from the administrator's file: unknown keys stay, the spec wins", () => {
    const admin = `# the administrator's file
name = "old"
uuid = "00000000-0000-0000-0000-00000000dead"
type = "pvh"
memory = 256
maxmem = 2048
vcpus = 1
maxvcpus = 1
cpus = "2-3"
on_crash = "restart"
on_soft_reset = "soft-reset"
bootloader = "pygrub"
root = "/dev/xvda2"
extra = "quiet"
disk = [ 'phy:/dev/etherd/e1.0,xvda,w,discard', 'broken spec with no vdev=' ]
vif = [ 'mac=00:16:3E:12:34:56, bridge=xenbr9, rate=10Mb/s', 'mac=00:16:3e:00:00:99,bridge=xenbr1' ]
`;
    const config = parseXlConfig(buildGuestXlConfig({ ...spec, xlConfig: admin }));
    const value = (key: string) => config.settings.find((s) => s.key === key)?.value;
    assert.equal(value("name"), "web1");
    assert.equal(value("uuid"), "6f1c2a40-5b7e-4c1d-9a2e-000000000001");
    assert.equal(value("type"), "pvh", "a direct kernel boot keeps the administrator's type");
    assert.equal(value("memory"), 512);
    assert.equal(value("maxmem"), 2048, "a ceiling above memory is kept (ballooning room)");
    assert.equal(value("maxvcpus"), undefined, "a ceiling below vcpus would fail: dropped");
    assert.equal(value("cpus"), "2-3");
    assert.equal(value("on_soft_reset"), "soft-reset");
    assert.equal(value("on_crash"), "preserve");
    for (const key of ["bootloader", "root", "extra"]) assert.equal(value(key), undefined, key);
    assert.equal(value("cmdline"), spec.boot.kind === "kernel" ? spec.boot.cmdline : "");
    // The disk of the same vdev lends its discard flag; the vif of the same MAC its rate.
    assert.deepEqual(xlStringList(config, "disk"), [
      "phy:/dev/etherd/e1.0,xvda,w,discard",
      "format=raw, vdev=xvdb, access=ro, target=/srv/images/swap.img",
    ]);
    assert.deepEqual(xlStringList(config, "vif"), [
      "mac=00:16:3e:12:34:56,bridge=xenbr0,rate=10Mb/s",
    ]);
    // Keys keep the administrator's order; new ones come after.
    const keys = config.settings.map((s) => s.key);
    assert.ok(keys.indexOf("cpus") < keys.indexOf("on_watchdog"));
    assert.equal(keys[0], "name");
  });

  test("firmware boot: HVM unless the file has its own boot loader", () => {
    const firmware: GuestSpec = { ...spec, boot: { kind: "firmware" } };
    const plain = parseXlConfig(
      buildGuestXlConfig({
        ...firmware,
        xlConfig: 'kernel = "/boot/k"\nbuilder = "generic"\nextra = "x"\n',
      }),
    );
    const keys = plain.settings.map((s) => s.key);
    assert.equal(plain.settings.find((s) => s.key === "type")?.value, "hvm");
    for (const key of ["kernel", "ramdisk", "cmdline", "extra", "builder"]) {
      assert.ok(!keys.includes(key), key);
    }
    const pygrub = parseXlConfig(
      buildGuestXlConfig({ ...firmware, xlConfig: 'bootloader = "pygrub"\n' }),
    );
    assert.equal(pygrub.settings.find((s) => s.key === "bootloader")?.value, "pygrub");
    assert.equal(pygrub.settings.find((s) => s.key === "type")?.value, undefined);
  });

  test("a kernel boot without a ramdisk drops the file's ramdisk", () => {
    const text = buildGuestXlConfig({
      ...spec,
      boot: { kind: "kernel", kernel: "/boot/k", cmdline: "" },
      xlConfig: 'ramdisk = "/boot/old-initrd"\n',
    });
    assert.doesNotMatch(text, /ramdisk/);
  });

  test("an NBD disk is unavailable: dom0 needs the aoe module instead", () => {
    refused(
      "UNAVAILABLE",
      () =>
        buildGuestXlConfig({
          ...spec,
          disks: [
            { vdev: "xvda", source: { kind: "nbd", socketPath: "/run/ep/e1.0" }, readOnly: false },
          ],
        }),
      /xvda: the xen driver cannot attach an NBD socket.*aoe module/,
    );
  });

  test("specs xl would misread are refused before anything runs", () => {
    const bad: Array<[Partial<GuestSpec>, RegExp]> = [
      [{ name: "12" }, /guest name "12"/],
      [{ name: "-x" }, /guest name "-x"/],
      [{ name: "a b" }, /guest name "a b"/],
      [{ name: "a".repeat(65) }, /guest name/],
      [{ uuid: "nope" }, /uuid "nope"/],
      [{ memoryMiB: 0 }, /memoryMiB 0/],
      [{ vcpus: 1.5 }, /vcpus 1.5/],
      [{ boot: { kind: "kernel", kernel: "vmlinuz", cmdline: "" } }, /kernel "vmlinuz"/],
      [
        {
          disks: [
            { vdev: "xvda", source: { kind: "path", path: "/dev/a" }, readOnly: false },
            { vdev: "xvda", source: { kind: "path", path: "/dev/b" }, readOnly: false },
          ],
        },
        /two disks are xvda/,
      ],
      [
        { disks: [{ vdev: "vda", source: { kind: "path", path: "/dev/a" }, readOnly: false }] },
        /vdev "vda"/,
      ],
      [
        { disks: [{ vdev: "xvda", source: { kind: "path", path: "/dev/a,b" }, readOnly: false }] },
        /holds a comma/,
      ],
      [{ vifs: [{ mac: "00:16:3e:00:00", bridge: "xenbr0" }] }, /vif MAC/],
      [{ vifs: [{ mac: "00:16:3e:00:00:01", bridge: "br0,rate=1" }] }, /vif bridge/],
      [
        {
          vifs: [
            { mac: "00:16:3e:00:00:01", bridge: "a" },
            { mac: "00:16:3E:00:00:01", bridge: "b" },
          ],
        },
        /two vifs have the MAC/,
      ],
    ];
    for (const [change, pattern] of bad) {
      refused("INVALID_ARGUMENT", () => buildGuestXlConfig({ ...spec, ...change }), pattern);
    }
  });

  test("a broken administrator's file is an INVALID_CONFIG naming its line", () => {
    refused(
      "INVALID_CONFIG",
      () => buildGuestXlConfig({ ...spec, xlConfig: 'name = "a"\nmemory = = 3\n' }),
      /xl.cfg of web1.*line 2/,
    );
  });

  describe("the domain policy (issue 10's repros)", () => {
    const repros: Array<[string, string]> = [
      [
        "device_model_args_hvm",
        'device_model_args_hvm = ["-monitor", "tcp:0.0.0.0:4444,server,nowait"]',
      ],
      ["device_model_override", 'device_model_override = "/bin/sh"'],
      ["pci", 'pci = ["0000:00:1f.2"]'],
      ["ioports", 'ioports = ["3f8-3ff"]'],
      ["iomem", 'iomem = ["fe000,1"]'],
      ["vfb", 'vfb = ["vnc=1,vnclisten=0.0.0.0"]'],
      ["acpi_firmware", 'acpi_firmware = "/etc/shadow"'],
      ["vif", "vif = [ 'mac=00:16:3E:12:34:56, bridge=xenbr9, script=/any/path' ]"],
      ["vif", "vif = [ 'mac=00:16:3E:12:34:56, backend=evil' ]"],
    ];
    for (const [key, line] of repros) {
      test(`${line.slice(0, 50)}: refused, named, unless an admin allowed ${key}`, () => {
        refused(
          "FORBIDDEN",
          () => buildGuestXlConfig({ ...spec, xlConfig: `${line}\n` }),
          new RegExp(`guest web1: .*\`${key}\``),
        );
        const text = buildGuestXlConfig({ ...spec, xlConfig: `${line}\n`, allowUnsafe: [key] });
        assert.ok(
          parseXlConfig(text).settings.some((s) => s.key === key),
          `${key} kept`,
        );
      });
    }

    test("a bootloader other than pygrub is refused; a kernel boot drops the file's one", () => {
      const firmware: GuestSpec = { ...spec, boot: { kind: "firmware" } };
      refused(
        "FORBIDDEN",
        () => buildGuestXlConfig({ ...firmware, xlConfig: 'bootloader = "/bin/sh"\n' }),
        /`bootloader` \(bootloader = "\/bin\/sh"\)/,
      );
      assert.doesNotMatch(
        buildGuestXlConfig({ ...spec, xlConfig: 'bootloader = "/bin/sh"\n' }),
        /bin\/sh/,
      );
    });

    test("dm_restrict = 1 always, unless an admin allowed dm_restrict", () => {
      const value = (text: string) =>
        parseXlConfig(text).settings.find((s) => s.key === "dm_restrict")?.value;
      assert.equal(value(buildGuestXlConfig(spec)), 1);
      assert.equal(value(buildGuestXlConfig({ ...spec, xlConfig: "dm_restrict = 1\n" })), 1);
      assert.equal(
        value(
          buildGuestXlConfig({
            ...spec,
            xlConfig: "dm_restrict = 0\n",
            allowUnsafe: ["dm_restrict"],
          }),
        ),
        0,
      );
    });

    test("keys outside the policy stay as the administrator wrote them", () => {
      const text = buildGuestXlConfig({ ...spec, xlConfig: 'cpus = "2-3"\nfrobnicate = ["x"]\n' });
      assert.match(text, /cpus = "2-3"/);
      assert.match(text, /frobnicate = \[ "x" \]/);
    });
  });
});
