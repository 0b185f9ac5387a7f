/**
 * What INSPECT_SCRIPT (inspect.ts) prints, for tests: a small Debian server (GNU df, sysvinit),
 * any section replaced. A section is its lines, each ending in a newline; null: not printed.
 */
export interface InspectedSections {
  mounts: string;
  df: string;
  kernel: string;
  hostname: string;
  memory: string;
  cpus: string;
  init: string;
  route: string;
  boot: string;
  vlan: string | null;
  tools: string;
}

export const SMALL_SERVER: InspectedSections = {
  mounts: `proc /proc proc rw 0 0
/dev/sda1 / ext4 rw,relatime 0 0
/dev/sda2 /home ext4 rw 0 0
tmpfs /run tmpfs rw 0 0
`,
  df: `Filesystem     1024-blocks    Used Available Capacity Mounted on
/dev/sda1          4062912 1048576   2787456      28% /
/dev/sda2          1000000  524288    400000      50% /home
tmpfs               100000       0    100000       0% /run
`,
  kernel: "6.1.0-18-amd64\n",
  hostname: "noc\n",
  memory: "MemTotal:        2031616 kB\n",
  cpus: "2\n",
  init: "/sbin/init\n",
  route: "default via 10.0.0.1 dev enp3s0 onlink\n",
  boot: "config-6.1.0-18-amd64\ninitrd.img-6.1.0-18-amd64\nvmlinuz-6.1.0-18-amd64\n",
  vlan: null,
  tools: "/usr/bin/tar\n/usr/bin/rsync\ntar (GNU tar) 1.34\n",
};

/** The script's output: SMALL_SERVER with `changes`, in the script's order, then `@@end`. */
export function inspectedOutput(changes: Partial<InspectedSections> = {}): string {
  const sections: InspectedSections = { ...SMALL_SERVER, ...changes };
  const printed = Object.entries(sections).filter(([, lines]) => lines !== null);
  return `${printed.map(([name, lines]) => `@@${name}\n${lines ?? ""}`).join("")}@@end\n`;
}
