import assert from "node:assert/strict";
import { test } from "node:test";
import type { GuestSpec } from "../driver.js";
import { qemuArgv, type QemuLaunch } from "./qemu-argv.js";
import { runDirOf } from "./run-dir.js";

const spec: GuestSpec = {
  name: "web1",
  uuid: "6a1c4a36-0d7e-4b59-9d5c-6d0d3c1e2f3a",
  memoryMiB: 512,
  vcpus: 2,
  boot: {
    kind: "kernel",
    kernel: "/boot/vmlinuz",
    ramdisk: "/boot/initrd.img",
    cmdline: "root=/dev/sda1 ro console=ttyS0",
  },
  disks: [
    { vdev: "sda1", source: { kind: "nbd", socketPath: "/run/ep/nbd/v1.sock" }, readOnly: false },
    { vdev: "sda2", source: { kind: "path", path: "/dev/etherd/e1.2" }, readOnly: true },
  ],
  vifs: [
    { mac: "00:16:3e:00:00:01", bridge: "xenbr0" },
    { mac: "00:16:3e:00:00:02", bridge: "san0" },
  ],
};

function launch(overrides: Partial<QemuLaunch> = {}): QemuLaunch {
  return {
    spec,
    accel: "tcg",
    machine: "pc",
    paths: runDirOf("/run/etherplane/qemu", spec.name),
    disks: [
      { driver: "nbd", socketPath: "/run/ep/nbd/v1.sock", readOnly: false, vdev: "sda1" },
      { driver: "host_device", path: "/dev/etherd/e1.2", readOnly: true, vdev: "sda2" },
    ],
    nics: [
      { tap: "vif3.0", mac: "00:16:3e:00:00:01", mtu: 1500 },
      { tap: "vif3.1", mac: "00:16:3e:00:00:02", mtu: 9000 },
    ],
    nbdReconnectDelayS: 10,
    ...overrides,
  };
}

/** The value following each occurrence of `option`. */
function values(argv: readonly string[], option: string): string[] {
  return argv.flatMap((arg, i) =>
    arg === option && argv[i + 1] !== undefined ? [argv[i + 1] as string] : [],
  );
}

void test("a kernel-booted guest: machine, stop-don't-exit policy, monitors, console, daemon", () => {
  const argv = qemuArgv(launch());
  assert.deepEqual(values(argv, "-m"), ["512"]);
  assert.deepEqual(values(argv, "-smp"), ["2"]);
  assert.deepEqual(values(argv, "-uuid"), [spec.uuid]);
  assert.deepEqual(values(argv, "-accel"), ["tcg"]);
  assert.deepEqual(values(argv, "-cpu"), []);
  for (const flag of ["-nodefaults", "-no-shutdown", "-no-reboot", "-daemonize"]) {
    assert.ok(argv.includes(flag), flag);
  }
  assert.deepEqual(values(argv, "-action"), ["panic=pause"]);
  assert.ok(values(argv, "-device").includes("pvpanic"));
  assert.deepEqual(values(argv, "-pidfile"), ["/run/etherplane/qemu/web1/qemu.pid"]);
  assert.deepEqual(values(argv, "-chardev"), [
    "pipe,id=events,path=/run/etherplane/qemu/web1/events",
    "socket,id=qmp,path=/run/etherplane/qemu/web1/qmp.sock,server=on,wait=off",
    "socket,id=console,path=/run/etherplane/qemu/web1/console.sock,server=on,wait=off," +
      "logfile=/run/etherplane/qemu/web1/console.log,logappend=on",
  ]);
  assert.deepEqual(values(argv, "-mon"), [
    "chardev=events,mode=control",
    "chardev=qmp,mode=control",
  ]);
  assert.deepEqual(values(argv, "-kernel"), ["/boot/vmlinuz"]);
  assert.deepEqual(values(argv, "-initrd"), ["/boot/initrd.img"]);
  // root=/dev/sda1 (Xen whole-disk vdev) is the first virtio disk.
  assert.deepEqual(values(argv, "-append"), ["root=/dev/vda ro console=ttyS0"]);
});

void test("disks: NBD with reconnect, block devices O_DIRECT, read-only kept, order kept", () => {
  const argv = qemuArgv(launch());
  const nodes = values(argv, "-blockdev").map(
    (text) => JSON.parse(text) as Record<string, unknown>,
  );
  assert.deepEqual(nodes, [
    {
      driver: "raw",
      "node-name": "disk0",
      "read-only": false,
      cache: { direct: false, "no-flush": false },
      file: {
        driver: "nbd",
        server: { type: "unix", path: "/run/ep/nbd/v1.sock" },
        "reconnect-delay": 10,
      },
    },
    {
      driver: "raw",
      "node-name": "disk1",
      "read-only": true,
      cache: { direct: true, "no-flush": false },
      file: { driver: "host_device", filename: "/dev/etherd/e1.2" },
    },
  ]);
  const devices = values(argv, "-device").filter((d) => d.startsWith("virtio-blk"));
  assert.deepEqual(devices, [
    "virtio-blk-pci,id=vdisk0,drive=disk0,serial=sda1",
    "virtio-blk-pci,id=vdisk1,drive=disk1,serial=sda2",
  ]);
});

void test("vifs: the driver's taps, the spec's MACs, the bridge MTU when not 1500", () => {
  const argv = qemuArgv(launch());
  assert.deepEqual(values(argv, "-netdev"), [
    "tap,id=net0,ifname=vif3.0,script=no,downscript=no",
    "tap,id=net1,ifname=vif3.1,script=no,downscript=no",
  ]);
  assert.deepEqual(
    values(argv, "-device").filter((d) => d.startsWith("virtio-net")),
    [
      "virtio-net-pci,id=nic0,netdev=net0,mac=00:16:3e:00:00:01,romfile=",
      "virtio-net-pci,id=nic1,netdev=net1,mac=00:16:3e:00:00:02,host_mtu=9000,romfile=",
    ],
  );
});

void test("firmware boot marks the first disk bootable; KVM uses the host CPU", () => {
  const argv = qemuArgv(launch({ spec: { ...spec, boot: { kind: "firmware" } }, accel: "kvm" }));
  assert.deepEqual(values(argv, "-kernel"), []);
  assert.deepEqual(values(argv, "-append"), []);
  assert.deepEqual(values(argv, "-cpu"), ["host"]);
  const disks = values(argv, "-device").filter((d) => d.startsWith("virtio-blk"));
  assert.match(disks[0] ?? "", /,bootindex=0$/);
  assert.doesNotMatch(disks[1] ?? "", /bootindex/);
});

void test("commas in paths are doubled inside option lists, left alone in JSON", () => {
  const paths = runDirOf("/srv/a,b", spec.name);
  const argv = qemuArgv(
    launch({
      paths,
      disks: [{ driver: "file", path: "/images/x,y.img", readOnly: false, vdev: "sda1" }],
      nics: [],
      spec: { ...spec, vifs: [] },
    }),
  );
  assert.ok(values(argv, "-chardev").every((c) => c.includes("/srv/a,,b/")));
  const node = JSON.parse(values(argv, "-blockdev")[0] ?? "{}") as { file: { filename: string } };
  assert.equal(node.file.filename, "/images/x,y.img");
});

test("the domain file's refused keys never reach QEMU's argv (issue 10's repros)", () => {
  const hostile = [
    'device_model_args_hvm = ["-monitor", "tcp:0.0.0.0:4444,server,nowait"]',
    'device_model_override = "/bin/sh"',
    'bootloader = "/bin/sh"',
    'pci = ["0000:00:1f.2"]',
    'ioports = ["3f8-3ff"]',
    'iomem = ["fe000,1"]',
    'vfb = ["vnc=1,vnclisten=0.0.0.0"]',
    'acpi_firmware = "/etc/shadow"',
    "vif = [ 'mac=00:16:3e:00:00:01,script=/any/path,backend=evil' ]",
  ].join("\n");
  const argv = qemuArgv(launch({ spec: { ...spec, xlConfig: hostile } })).join(" ");
  assert.equal(argv, qemuArgv(launch()).join(" "), "the file does not change the argv");
  for (const text of [
    "-monitor tcp",
    "4444",
    "/bin/sh",
    "0000:00:1f.2",
    "vfio",
    "0.0.0.0",
    "-vnc",
    "/etc/shadow",
    "acpitable",
    "/any/path",
    "evil",
    "-smbios",
  ]) {
    assert.ok(!argv.includes(text), text);
  }
});
