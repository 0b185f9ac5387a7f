/**
 * A test per rule of the policy table: each row refuses what it names and lets the safe form
 * through, with the line and the row's reason. The repros (issue 10) are rows here too.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseXlConfig } from "../xl-cfg/index.js";
import { checkDomainPolicy, isLoopback } from "./domain-policy.js";
import { POLICY_TABLE, keyPattern, policyRowFor } from "./policy-table.js";

const base = 'name = "t"\nmemory = 128\n';
/** The findings of one extra line (line 3 of the file). */
function findings(line: string) {
  return checkDomainPolicy(parseXlConfig(`${base}${line}\n`, "t.cfg"));
}
function refused(line: string, key: string): void {
  const found = findings(line);
  assert.ok(found.length > 0, `${line} is refused`);
  for (const f of found) {
    assert.equal(f.key, key);
    assert.equal(f.line, 3);
    assert.equal(f.reason, policyRowFor(key)?.reason);
  }
}
function allowed(line: string): void {
  assert.deepEqual(findings(line), [], `${line} is allowed`);
}

/** [row pattern, refused lines, allowed lines] for every row of the table. */
const CASES: Array<[string, string[], string[]]> = [
  ["bootloader", ['bootloader = "/bin/sh"', 'bootloader = "pygrub2"'], ['bootloader = "pygrub"']],
  ["bootloader_args", ['bootloader_args = ["--output=/etc/passwd"]'], []],
  [
    "device_model_version",
    ['device_model_version = "qemu-xen-traditional"'],
    ['device_model_version = "qemu-xen"'],
  ],
  [
    "device_model*",
    [
      'device_model_args_hvm = ["-monitor", "tcp:0.0.0.0:4444,server,nowait"]',
      'device_model_override = "/bin/sh"',
      'device_model_user = "root"',
      'device_model_args = ["-x"]',
    ],
    [],
  ],
  ["dm_restrict", ["dm_restrict = 0", 'dm_restrict = "0"'], ["dm_restrict = 1"]],
  ["*_script", ['vif_script = "/x"', 'remus_script = "/x"'], []],
  ["pci*", ['pci = ["0000:00:1f.2"]', "pci_permissive = 1"], []],
  ["rdm", ['rdm = "strategy=host"'], []],
  ["ioports", ['ioports = ["3f8-3ff"]'], []],
  ["iomem", ['iomem = ["fe000,1"]'], []],
  ["irqs", ["irqs = [4]"], []],
  ["dtdev", ['dtdev = ["/soc/x"]'], []],
  ["e820_host", ["e820_host = 1"], []],
  ["gfx_passthru", ["gfx_passthru = 1"], []],
  ["driver_domain", ["driver_domain = 1"], []],
  ["usb", ["usb = 2"], ["usb = 1"]],
  ["usbversion", ["usbversion = 9"], ["usbversion = 3"]],
  [
    "usbdevice",
    ['usbdevice = "host:1234:5678"', 'usbdevice = ["tablet", "host:1.2"]'],
    ['usbdevice = "tablet"', 'usbdevice = ["tablet", "mouse"]'],
  ],
  ["usb*", ['usbdev = ["hostbus=1,hostaddr=2"]', 'usbctrl = ["type=qusb"]'], []],
  ["acpi_firmware", ['acpi_firmware = "/etc/shadow"'], []],
  ["smbios_firmware", ['smbios_firmware = "/etc/shadow"'], []],
  ["firmware", ['firmware = "/etc/shadow"'], ['firmware = "uefi"', 'firmware = "bios"']],
  ["firmware_override", ['firmware_override = "/etc/shadow"'], []],
  ["bios_path_override", ['bios_path_override = "/etc/shadow"'], []],
  ["device_tree", ['device_tree = "/etc/shadow"'], []],
  ["pvshim_path", ['pvshim_path = "/etc/shadow"'], []],
  ["stubdomain_kernel", ['stubdomain_kernel = "/etc/shadow"'], []],
  ["stubdomain_ramdisk", ['stubdomain_ramdisk = "/etc/shadow"'], []],
  ["xauthority", ['xauthority = "/root/.Xauthority"'], []],
  [
    "serial",
    ['serial = "file:/etc/cron.d/x"', 'serial = ["pty", "tcp:0.0.0.0:7"]'],
    ['serial = "pty"'],
  ],
  ["p9", ['p9 = ["tag=t,path=/,security_model=none"]'], []],
  [
    "channel",
    ['channel = ["name=x,connection=socket,path=/etc/x"]'],
    ['channel = ["name=x,connection=pty"]'],
  ],
  [
    "vfb",
    ['vfb = ["vnc=1,vnclisten=0.0.0.0"]', 'vfb = ["sdl=1,xauthority=/root/.Xauthority"]'],
    ['vfb = ["vnc=1,vnclisten=127.0.0.1"]', 'vfb = ["vnc=1"]'],
  ],
  [
    "vnclisten",
    ['vnclisten = "0.0.0.0"', 'vnclisten = "10.0.0.1:1"'],
    ['vnclisten = "127.0.0.1:1"', 'vnclisten = "localhost"'],
  ],
  ["spicehost", ['spicehost = "0.0.0.0"'], ['spicehost = "127.0.0.1"']],
  ["spice", ["spice = 1"], ["spice = 0"]],
  ["*seclabel", ['seclabel = "system_u:system_r:domU_t"', 'init_seclabel = "x"'], []],
  ["cpuid", ['cpuid = "host,tm=0"'], []],
  [
    "vif",
    [
      'vif = ["mac=00:16:3e:00:00:01,script=/any/path"]',
      'vif = ["backend=driverdom"]',
      'vif = ["vifname=eth0"]',
    ],
    ['vif = ["mac=00:16:3e:00:00:01,bridge=xenbr0,rate=10Mb/s"]'],
  ],
  [
    "disk",
    [
      'disk = ["vdev=xvda,script=/bin/x,target=/dev/etherd/e1.0"]',
      'disk = ["vdev=xvda,backend=dd,target=/dev/etherd/e1.0"]',
      'disk = ["iscsi:iqn.x,xvda,w"]',
    ],
    ['disk = ["phy:/dev/etherd/e1.0,xvda,w"]', 'disk = ["/dev/xenimages/noc.grid,raw,sda1,w"]'],
  ],
  ...["vtpm", "vkb", "vdispl", "vsnd", "pvcalls", "virtio"].map(
    (key): [string, string[], string[]] => [key, [`${key} = ["backend=dd"]`], []],
  ),
];

describe("domain policy table", () => {
  it("has a test case for every row", () => {
    const tested = new Set(CASES.map(([pattern]) => pattern));
    for (const row of POLICY_TABLE)
      assert.ok(tested.has(keyPattern(row.match)), keyPattern(row.match));
  });

  for (const [pattern, bad, good] of CASES) {
    it(`${pattern}: refuses ${bad.length} form(s), allows ${good.length}`, () => {
      for (const line of bad) refused(line, line.split(" ")[0] ?? "");
      for (const line of good) allowed(line);
    });
  }

  it("leaves keys outside the table alone", () => {
    allowed('cpus = "0-3"\npool = "p"\nfrobnicate = ["x"]\nkernel = "/boot/vmlinuz"\nextra = "x"');
  });

  it("reads the effective value: a refused value overridden later is not refused", () => {
    assert.deepEqual(findings("dm_restrict = 0\ndm_restrict = 1"), []);
    const later = findings('bootloader = "pygrub"\nbootloader += "/../../bin/sh"');
    assert.equal(later.length, 1);
  });

  it("quotes at most 120 characters of a hostile value, control characters replaced", () => {
    const [finding] = findings(`bootloader = "/bin/sh\\n${"x".repeat(500)}"`);
    assert.ok(finding);
    assert.ok(finding.detail.length <= 124);
    assert.ok(!finding.detail.includes("\n"));
  });

  it("knows loopback addresses", () => {
    for (const a of ["127.0.0.1", "127.1.2.3:5", "::1", "localhost", "[::1]:1"])
      assert.ok(isLoopback(a), a);
    for (const a of ["0.0.0.0", "", "::", "10.0.0.1", "127.0.0.256", "127.0.0.1.example"])
      assert.ok(!isLoopback(a), a);
  });
});
