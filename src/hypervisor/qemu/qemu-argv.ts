/**
 * GuestSpec -> the argv of `qemu-system-x86_64` (pure). What each part is for:
 *
 * - `-nodefaults -no-user-config -display none`: only the devices listed here.
 * - `-no-shutdown -no-reboot -action panic=pause`: a guest that powers off, reboots or panics
 *   stops and stays (runstate `shutdown` or `guest-panicked`) instead of exiting or restarting;
 *   the driver reports why and the agent decides (driver.ts). -no-reboot turns a guest reset into
 *   a shutdown request with reason `guest-reset` (softmmu/runstate.c qemu_system_reset_request).
 * - `-device pvpanic`: the guest's panic notifier reports to QEMU (GUEST_PANICKED).
 * - Three monitors/character devices in the run directory (run-dir.ts): `qmp.sock` for the
 *   driver's commands; an event journal (`-chardev pipe`: input from the FIFO `events.in`, output
 *   to the regular file `events.out`) where QEMU itself writes every QMP event, so the reason a
 *   guest stopped is kept even while no agent is connected; the serial console on
 *   `console.sock`, also appended to `console.log` by QEMU (`logfile=`, `logappend=on`).
 * - `-daemonize -pidfile`: QEMU outlives the agent that started it.
 * - `-incoming defer` (a migration's destination only): the guest waits for its state.
 * - Disks: `-blockdev` in JSON syntax (no option escaping of paths), a raw format node over a
 *   `host_device` (O_DIRECT: cache=none), a `file` (page cache: O_DIRECT fails on tmpfs) or an
 *   `nbd` client on a Unix socket with `reconnect-delay` (a restarted NBD bridge is picked up);
 *   each a virtio-blk-pci device with `serial=<vdev>` (/dev/disk/by-id/virtio-<vdev>).
 * - Vifs: `-netdev tap` opening a tap the driver made and enslaved beforehand (host-net.ts),
 *   virtio-net-pci with the spec's MAC, `host_mtu` = the bridge's MTU when not 1500 (the guest
 *   starts with it: VIRTIO_NET_F_MTU), `romfile=` (no PXE ROM).
 */
import { assert } from "../../foundation/assert.js";
import type { GuestSpec } from "../driver.js";
import { rewriteRootDevice } from "./guest-cmdline.js";

export type QemuAccel = "kvm" | "tcg";

export type QemuDiskNode =
  | { driver: "host_device" | "file"; path: string; readOnly: boolean; vdev: string }
  | { driver: "nbd"; socketPath: string; readOnly: boolean; vdev: string };

export interface QemuNic {
  tap: string;
  mac: string;
  mtu: number;
}

export interface QemuRunPaths {
  qmpSocket: string;
  consoleSocket: string;
  consoleLog: string;
  /** `-chardev pipe` base: QEMU opens `<base>.in` and `<base>.out`. */
  eventsBase: string;
  pidFile: string;
}

export interface QemuLaunch {
  spec: GuestSpec;
  accel: QemuAccel;
  machine: string;
  paths: QemuRunPaths;
  disks: readonly QemuDiskNode[];
  nics: readonly QemuNic[];
  nbdReconnectDelayS: number;
  /**
   * A live migration's destination: `-incoming defer`, the guest waits, stopped, for its state
   * (QMP migrate-incoming names where it arrives; qemu-migration.ts).
   */
  incoming?: boolean;
}

/** Values inside a key=value option list: QEMU reads ",," as a literal comma. */
function optionValue(value: string): string {
  return value.replaceAll(",", ",,");
}

function blockdev(disk: QemuDiskNode, index: number, reconnectDelayS: number): string {
  const file =
    disk.driver === "nbd"
      ? {
          driver: "nbd",
          server: { type: "unix", path: disk.socketPath },
          "reconnect-delay": reconnectDelayS,
        }
      : { driver: disk.driver, filename: disk.path };
  return JSON.stringify({
    driver: "raw",
    "node-name": `disk${index}`,
    "read-only": disk.readOnly,
    cache: { direct: disk.driver === "host_device", "no-flush": false },
    file,
  });
}

export function qemuArgv(launch: QemuLaunch): string[] {
  const { spec, paths } = launch;
  assert(/^[\w.-]+$/.test(spec.name), `guest name ${spec.name} was validated`);
  assert(Number.isInteger(launch.nbdReconnectDelayS), "nbd reconnect delay is whole seconds");
  const argv: string[] = [
    ...["-name", `guest=${spec.name},debug-threads=on`],
    ...["-uuid", spec.uuid],
    ...["-machine", launch.machine],
    ...["-accel", launch.accel],
    ...(launch.accel === "kvm" ? ["-cpu", "host"] : []),
    ...["-m", String(spec.memoryMiB)],
    ...["-smp", String(spec.vcpus)],
    ...["-nodefaults", "-no-user-config", "-display", "none"],
    ...["-no-shutdown", "-no-reboot", "-action", "panic=pause", "-device", "pvpanic"],
    ...["-chardev", `pipe,id=events,path=${optionValue(paths.eventsBase)}`],
    ...["-mon", "chardev=events,mode=control"],
    ...["-chardev", `socket,id=qmp,path=${optionValue(paths.qmpSocket)},server=on,wait=off`],
    ...["-mon", "chardev=qmp,mode=control"],
    ...[
      "-chardev",
      `socket,id=console,path=${optionValue(paths.consoleSocket)},server=on,wait=off,` +
        `logfile=${optionValue(paths.consoleLog)},logappend=on`,
    ],
    ...["-device", "isa-serial,chardev=console"],
  ];
  if (spec.boot.kind === "kernel") {
    argv.push("-kernel", spec.boot.kernel);
    if (spec.boot.ramdisk !== undefined) argv.push("-initrd", spec.boot.ramdisk);
    argv.push("-append", rewriteRootDevice(spec.boot.cmdline, spec.disks));
  }
  launch.disks.forEach((disk, index) => {
    argv.push("-blockdev", blockdev(disk, index, launch.nbdReconnectDelayS));
    const firmwareBoot = spec.boot.kind === "firmware" && index === 0 ? ",bootindex=0" : "";
    assert(/^[a-z0-9]+$/.test(disk.vdev), `vdev ${disk.vdev} was validated`);
    argv.push(
      "-device",
      `virtio-blk-pci,id=vdisk${index},drive=disk${index},serial=${disk.vdev}${firmwareBoot}`,
    );
  });
  launch.nics.forEach((nic, index) => {
    assert(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(nic.mac), `mac ${nic.mac} was validated`);
    argv.push("-netdev", `tap,id=net${index},ifname=${nic.tap},script=no,downscript=no`);
    const mtu = nic.mtu === 1500 ? "" : `,host_mtu=${nic.mtu}`;
    argv.push(
      "-device",
      `virtio-net-pci,id=nic${index},netdev=net${index},mac=${nic.mac}${mtu},romfile=`,
    );
  });
  if (launch.incoming === true) argv.push("-incoming", "defer");
  argv.push("-daemonize", "-pidfile", paths.pidFile);
  return argv;
}
