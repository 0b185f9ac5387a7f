/**
 * The files the initramfs and the root filesystem image share: busybox init's inittab, the
 * console guest, the power button handler. Both boot paths end in busybox `init`, so a guest
 * behaves the same whether it stayed in the initramfs or switched to a root disk:
 *
 * - `poweroff`/`reboot` (without -f) signal init (SIGUSR2/SIGTERM), which runs the shutdown
 *   actions (sync, remount read-only) and then powers off or reboots;
 * - Ctrl-Alt-Del (QMP send-key, the qemu driver's `reboot`) makes the kernel send SIGINT to init
 *   (kernel/reboot.c ctrl_alt_del with C_A_D off), which runs the `ctrlaltdel` action: reboot;
 * - the ACPI power button (QMP system_powerdown) reaches busybox `acpid` as a KEY_POWER input
 *   event (button.ko + evdev.ko); acpid's built-in table maps it to the action `PWRF/00000080`,
 *   run as /etc/acpi/PWRF/00000080 (busybox util-linux/acpid.c): poweroff;
 * - the kernel's orderly_poweroff (Xen PV shutdown requests) runs /sbin/poweroff.
 */
import { consoleGuestReadyPrefix } from "../../../src/hypervisor/fake/console-guest.js";
import type { InitramfsFile } from "../linux-guest/initramfs.js";

/** Shell helper: `cmdline_get KEY` prints the value of KEY=... on the kernel command line. */
export const cmdlineGetFunction = `cmdline_get() {
  for word in $(cat /proc/cmdline); do
    case "$word" in "$1="*) echo "\${word#*=}"; return 0 ;; esac
  done
  return 1
}`;

const inittab = `# etherplane domain guest (test/lab/domain-guest/guest-files.ts)
::sysinit:/etc/rc.sysinit
::respawn:/bin/cttyhack /etc/console-guest
::ctrlaltdel:/bin/reboot
::shutdown:/bin/sync
::shutdown:/bin/umount -a -r
`;

const rcSysinit = `#!/bin/sh
${cmdlineGetFunction}
hostname "$(cmdline_get ep_hostname || echo ep-guest)"
mkdir -p /var/log /var/run /tmp
# The power button: acpid reads /dev/input/event* (evdev); -l: its log stays in RAM.
acpid -l /dev/null -c /etc/acpi
`;

/**
 * Prints the ready line, then runs each console line as a command. A plain read loop rather than
 * an interactive shell: ash's line editing asks the terminal for the cursor position (ESC [6n)
 * and eats the test's input as the answer. The tty still echoes what is typed.
 */
const consoleGuest = `#!/bin/sh
read -r up _ </proc/uptime
echo "${consoleGuestReadyPrefix} $(hostname) $up"
while IFS= read -r line; do
  sh -c "$line"
done
`;

const powerButton = `#!/bin/sh
exec poweroff
`;

export function sharedGuestFiles(): InitramfsFile[] {
  return [
    { path: "etc/inittab", content: inittab },
    { path: "etc/rc.sysinit", content: rcSysinit, mode: 0o755 },
    { path: "etc/console-guest", content: consoleGuest, mode: 0o755 },
    { path: "etc/acpi/PWRF/00000080", content: powerButton, mode: 0o755 },
  ];
}
