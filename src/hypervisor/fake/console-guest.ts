/**
 * The "console guest" protocol: what a test guest says and understands on its serial console, so
 * the driver contract test can drive any driver's guests the same way. The lab's real guest
 * (test/lab/domain-guest) speaks it with busybox; the fake driver simulates it (fake-console.ts).
 *
 * - Once booted, the guest prints one line `EP-GUEST READY <hostname> <uptime s>` and then runs a
 *   shell on the console: every line sent is a command, its output comes back on the console
 *   (after the terminal's echo of the command itself).
 * - `poweroff -f` powers off, `reboot -f` reboots, `echo c > /proc/sysrq-trigger` crashes the
 *   kernel (reported as a crash by the hypervisor).
 */
export const consoleGuestReadyPrefix = "EP-GUEST READY";

/**
 * Matches a whole ready line anywhere in console text (serial lines end with \r\n). The line
 * ending is required, not `$`: a chunk that ends inside the line ("...READY a 5.9") must not
 * count as ready, or a command typed at once is echoed into the middle of the ready line and a
 * later reader of the history never finds it.
 */
export const consoleGuestReadyPattern = /EP-GUEST READY (\S+) ([\d.]+)\r?\n/;

export const consoleGuestCommands = {
  poweroff: "poweroff -f",
  reboot: "reboot -f",
  crash: "echo c > /proc/sysrq-trigger",
} as const;
