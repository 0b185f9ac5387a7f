/**
 * A login prompt on the domain's console: ttyS0 under the qemu driver, hvc0 for Xen PV. sysvinit
 * and busybox init read /etc/inittab (inittab(5): `id:runlevels:action:process`); systemd starts
 * `serial-getty@TTY.service` when it is wanted by getty.target (systemd-getty-generator does it
 * only for the kernel's console=, so the link makes it independent of the command line). Pure.
 */
import type { CopyEdit, InitSystem } from "./edits.js";

export type ConsoleTty = "ttyS0" | "hvc0";

export interface ConsoleFiles {
  init: InitSystem;
  inittab: string | undefined;
  securetty: string | undefined;
}

function gettyLine(inittab: string, tty: ConsoleTty): string {
  const lines = inittab.split("\n").filter((l) => !l.trim().startsWith("#"));
  const template = lines.find((l) => /getty/.test(l) && /\btty\d+\b/.test(l));
  if (!template) return `T0:2345:respawn:/sbin/getty -L ${tty} 115200 vt100`;
  const [id = "", ...rest] = template.split(":");
  // busybox names the entry after its tty (`tty1::respawn:...`); sysvinit uses a short id.
  const nextId = /^tty/.test(id) ? tty : tty === "ttyS0" ? "T0" : "X0";
  return [nextId, ...rest].join(":").replace(/\btty\d+\b/g, tty);
}

export function consoleEdits(files: ConsoleFiles, tty: ConsoleTty): CopyEdit[] {
  const edits: CopyEdit[] = [];
  const ttyPattern = new RegExp(`\\b${tty}\\b`);
  if (files.inittab !== undefined) {
    const active = files.inittab.split("\n").filter((l) => !l.trim().startsWith("#"));
    if (!active.some((l) => ttyPattern.test(l))) {
      const line = gettyLine(files.inittab, tty);
      const base =
        files.inittab === "" || files.inittab.endsWith("\n") ? files.inittab : `${files.inittab}\n`;
      edits.push({
        kind: "write",
        path: "/etc/inittab",
        text: `${base}# etherplane p2v: a login prompt on the domain's console\n${line}\n`,
        change: `inittab: getty on ${tty} (${line})`,
      });
    }
  }
  if (files.init === "systemd") {
    edits.push({
      kind: "symlink",
      path: `/etc/systemd/system/getty.target.wants/serial-getty@${tty}.service`,
      target: "/lib/systemd/system/serial-getty@.service",
      change: `systemd: serial-getty@${tty}.service enabled (getty.target wants it)`,
    });
  }
  if (files.securetty !== undefined && !files.securetty.split("\n").some((l) => l.trim() === tty)) {
    const base =
      files.securetty === "" || files.securetty.endsWith("\n")
        ? files.securetty
        : `${files.securetty}\n`;
    edits.push({
      kind: "write",
      path: "/etc/securetty",
      text: `${base}${tty}\n`,
      change: `securetty: root may log in on ${tty}`,
    });
  }
  return edits;
}
