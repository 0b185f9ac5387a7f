/**
 * A "physical server" for P2V tests: a real OpenSSH sshd (Debian's openssh-server) in a test
 * network namespace, whose sessions are chrooted (ChrootDirectory) into a root file system of its
 * own: an ext4 image with a UUID, mounted, holding a small userland (busybox for the shell tools,
 * GNU tar, rsync and bash with their libraries), /proc and /dev mounted inside, a second ext4
 * file system on /home, an fstab with a UUID root, a swap line and /home, an inittab, a hostname,
 * and files with owners, modes, ACLs, xattrs, hard links and a sparse file. Inside a session,
 * /proc/self/mounts shows the server's mounts as the server sees them.
 *
 * Its sessions run on this machine's kernel. With `boot` (a kernel and initrd, e.g. the domain
 * guest kit's), the tree is also bootable the way a small busybox server is: the kernel and
 * initrd in /boot under `uname -r`'s names (what P2V copies out), /sbin/init busybox, a
 * busybox-style inittab with a getty on tty1 only (P2V must add the serial one) and an rcS that
 * mounts /proc, remounts / read-write, runs `mount -a` on the copy's fstab, says which device the fstab's root
 * UUID is and sets the hostname from /etc/hostname.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ChildProcess } from "node:child_process";
import type { Namespace } from "./netns.js";

const BINARIES = ["/bin/bash", "/usr/bin/tar", "/usr/bin/rsync"];
const BUSYBOX_APPLETS = [
  "sh",
  "cat",
  "df",
  "grep",
  "head",
  "hostname",
  "ip",
  "ls",
  "readlink",
  "sleep",
  "test",
  "uname",
  "touch",
  "rm",
  "mkdir",
  "sha256sum",
  "stat",
  "find",
  "wc",
  "cp",
  "mv",
];
const ROOT_IMAGE_BYTES = 96 * 1024 ** 2;
const HOME_IMAGE_BYTES = 24 * 1024 ** 2;
export const SOURCE_HOSTNAME = "noc-source";
/** The applets a booted copy runs (init, its rcS and getty), linked in /bin beside BUSYBOX_APPLETS. */
const BOOT_APPLETS = ["init", "getty", "login", "mount", "umount", "findfs", "sed", "echo", "sync"];
/** What the booted copy's rcS prints: `mount -a`'s status and the fstab root UUID's device. */
export const RCS_MOUNT_A = "EP-P2V mount -a exit";
export const RCS_FSTAB_ROOT = "EP-P2V fstab root";

export interface P2vSourceOptions {
  /** A kernel and initrd to make the server's tree bootable (see the file comment). */
  boot?: { kernel: string; initrd: string };
  /**
   * The `uname -r` they are filed under in /boot: the default is this machine's, which chrooted
   * sessions report; a machine booting its own kernel (p2v-machine.ts) gives that kernel's.
   */
  bootRelease?: string;
  /** The root file system's size (default 96 MiB): the benchmark's 1 GiB of files needs more. */
  rootImageBytes?: number;
}

const sh = (command: string, args: string[]) =>
  execFileSync(command, args, { stdio: ["ignore", "pipe", "pipe"] }).toString();

export function libraries(binary: string): string[] {
  return sh("ldd", [binary])
    .split("\n")
    .map((l) => /(\/\S+) \(0x/.exec(l)?.[1])
    .filter((l): l is string => l !== undefined);
}

export function copyInto(root: string, file: string): void {
  const to = path.join(root, file);
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(fs.realpathSync(file), to);
  fs.chmodSync(to, 0o755);
}

export class P2vSource {
  sshd: ChildProcess | undefined;
  /** ssh-keygen's files: the client key, the server's host key, the known_hosts line. */
  readonly identity: string;
  readonly knownHosts: string;
  readonly root: string;
  readonly port = 2222;
  private readonly mounts: string[] = [];

  private constructor(readonly dir: string) {
    this.identity = path.join(dir, "id_ed25519");
    this.knownHosts = path.join(dir, "known_hosts");
    this.root = path.join(dir, "root");
  }

  /** Makes the server's disks and files under a fresh root-only directory in /run (ChrootDirectory needs root-owned parents). */
  static create(tag: string, options: P2vSourceOptions = {}): P2vSource {
    const source = new P2vSource(fs.mkdtempSync(`/run/ep-${tag}-`));
    try {
      source.build(options.rootImageBytes ?? ROOT_IMAGE_BYTES);
      if (options.boot) source.makeBootable(options.boot, options.bootRelease);
    } catch (error) {
      source.unmountAll();
      fs.rmSync(source.dir, { recursive: true, force: true });
      throw error;
    }
    return source;
  }

  private mount(args: string[], at: string): void {
    fs.mkdirSync(at, { recursive: true });
    sh("mount", [...args, at]);
    this.mounts.push(at);
  }

  private build(rootImageBytes: number): void {
    const { dir, root } = this;
    const rootImage = path.join(dir, "root.img");
    const homeImage = path.join(dir, "home.img");
    fs.writeFileSync(rootImage, "");
    fs.truncateSync(rootImage, rootImageBytes);
    fs.writeFileSync(homeImage, "");
    fs.truncateSync(homeImage, HOME_IMAGE_BYTES);
    sh("mkfs.ext4", ["-q", "-F", rootImage]);
    sh("mkfs.ext4", ["-q", "-F", homeImage]);
    const uuid = sh("blkid", ["-s", "UUID", "-o", "value", rootImage]).trim();
    this.mount(["-o", "loop", rootImage], root);
    fs.chmodSync(root, 0o755);
    this.mount(["-o", "loop", homeImage], path.join(root, "home"));
    for (const d of [
      "bin",
      "usr/bin",
      "etc/network",
      "boot",
      "proc",
      "dev",
      "tmp",
      "root",
      "srv/data",
      "var/log",
    ])
      fs.mkdirSync(path.join(root, d), { recursive: true });
    fs.chmodSync(path.join(root, "tmp"), 0o1777);
    // The userland: busybox applets, and the real tools P2V runs on a server.
    copyInto(root, "/bin/busybox");
    for (const applet of BUSYBOX_APPLETS) fs.symlinkSync("busybox", path.join(root, "bin", applet));
    for (const binary of BINARIES) {
      copyInto(root, binary);
      for (const lib of libraries(binary))
        if (!fs.existsSync(path.join(root, lib))) copyInto(root, lib);
    }
    const etc: Record<string, string> = {
      passwd: "root:x:0:0:root:/root:/bin/bash\nsvc:x:1001:1001::/srv:/bin/sh\n",
      group: "root:x:0:\nsvc:x:1001:\n",
      hostname: `${SOURCE_HOSTNAME}\n`,
      fstab: `# <file system> <mount point> <type> <options> <dump> <pass>\nUUID=${uuid} / ext4 errors=remount-ro 0 1\n/dev/sda3 /home ext4 defaults 0 2\n/dev/sda2 none swap sw 0 0\nproc /proc proc defaults 0 0\n`,
      inittab:
        "id:2:initdefault:\nsi::sysinit:/etc/init.d/rcS\n1:2345:respawn:/sbin/getty 38400 tty1\n",
      "network/interfaces": "auto lo\niface lo inet loopback\n",
    };
    for (const [file, text] of Object.entries(etc))
      fs.writeFileSync(path.join(root, "etc", file), text);
    // A host file the copy's symlink points at: the fix-up must not write through it.
    fs.writeFileSync(path.join(root, "tmp/securetty-target"), "console\n");
    fs.symlinkSync("../tmp/securetty-target", path.join(root, "etc/securetty"));
    const release = sh("uname", ["-r"]).trim();
    fs.writeFileSync(path.join(root, `boot/vmlinuz-${release}`), "not a real kernel\n");
    fs.writeFileSync(path.join(root, `boot/initrd.img-${release}`), "not a real initrd\n");
    // Files whose metadata must survive.
    const data = path.join(root, "srv/data");
    fs.writeFileSync(path.join(data, "owned"), "owned by 1234:5678, mode 0640\n");
    fs.chownSync(path.join(data, "owned"), 1234, 5678);
    fs.chmodSync(path.join(data, "owned"), 0o640);
    fs.writeFileSync(path.join(data, "linked-a"), "one inode, two names\n");
    fs.linkSync(path.join(data, "linked-a"), path.join(data, "linked-b"));
    const sparse = path.join(data, "sparse");
    fs.writeFileSync(sparse, "");
    fs.truncateSync(sparse, 32 * 1024 ** 2);
    const fd = fs.openSync(sparse, "r+");
    fs.writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 16 * 1024 ** 2);
    fs.closeSync(fd);
    fs.writeFileSync(path.join(data, "tagged"), "xattr and acl\n");
    sh("setfattr", ["-n", "user.p2v", "-v", "kept", path.join(data, "tagged")]);
    sh("setfacl", ["-m", "u:1001:r", path.join(data, "tagged")]);
    fs.writeFileSync(
      path.join(data, "random"),
      Buffer.from(Array.from({ length: 256 * 1024 }, (_, i) => (i * 7919) % 251)),
    );
    fs.writeFileSync(path.join(root, "home/notes.txt"), "on the /home file system\n");
    fs.writeFileSync(path.join(root, "var/log/app.log"), "started\n");
    // The kernel's trees inside the chroot, as on a running server.
    this.mount(["-t", "proc", "proc"], path.join(root, "proc"));
    this.mount(["--bind", "/dev"], path.join(root, "dev"));
    // Keys: the client's, the server's, and known_hosts naming the server by [127.0.0.1]:port.
    sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", this.identity]);
    sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "host_key")]);
    fs.copyFileSync(`${this.identity}.pub`, path.join(dir, "authorized_keys"));
    const hostKey = fs.readFileSync(path.join(dir, "host_key.pub"), "utf8").split(" ");
    fs.writeFileSync(this.knownHosts, `[127.0.0.1]:${this.port} ${hostKey[0]} ${hostKey[1]}\n`);
    fs.writeFileSync(
      path.join(dir, "sshd_config"),
      [
        `Port ${this.port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${path.join(dir, "host_key")}`,
        `PidFile ${path.join(dir, "sshd.pid")}`,
        `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`,
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        `ChrootDirectory ${root}`,
        "",
      ].join("\n"),
    );
    fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  }

  /** A kernel and initrd in /boot, busybox init with a tty1 getty, and an rcS (file comment). */
  private makeBootable(boot: { kernel: string; initrd: string }, bootRelease?: string): void {
    const { root } = this;
    const release = bootRelease ?? sh("uname", ["-r"]).trim();
    if (bootRelease !== undefined)
      for (const stale of fs.readdirSync(path.join(root, "boot")))
        fs.rmSync(path.join(root, "boot", stale));
    fs.copyFileSync(boot.kernel, path.join(root, `boot/vmlinuz-${release}`));
    fs.copyFileSync(boot.initrd, path.join(root, `boot/initrd.img-${release}`));
    for (const applet of BOOT_APPLETS)
      if (!fs.existsSync(path.join(root, "bin", applet)))
        fs.symlinkSync("busybox", path.join(root, "bin", applet));
    fs.mkdirSync(path.join(root, "sbin"), { recursive: true });
    for (const applet of ["init", "getty"])
      fs.symlinkSync("../bin/busybox", path.join(root, "sbin", applet));
    fs.mkdirSync(path.join(root, "etc/init.d"), { recursive: true });
    // busybox init: the first field is the tty the process runs on (busybox's examples/inittab).
    fs.writeFileSync(
      path.join(root, "etc/inittab"),
      "::sysinit:/etc/init.d/rcS\ntty1::respawn:/sbin/getty 38400 tty1\n",
    );
    fs.writeFileSync(
      path.join(root, "etc/init.d/rcS"),
      [
        "#!/bin/sh",
        "export PATH=/bin:/usr/bin",
        "mount -t proc proc /proc",
        "mount -o remount,rw /",
        "mount -a",
        `echo "${RCS_MOUNT_A} $?"`,
        "uuid=$(sed -n 's/^UUID=\\([^ ]*\\)[ \t][ \t]*\\/[ \t].*/\\1/p' /etc/fstab)",
        `echo "${RCS_FSTAB_ROOT} UUID=$uuid is $(findfs UUID=$uuid)"`,
        "hostname -F /etc/hostname",
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
  }

  /** The server's host key fingerprint (for --host-key). */
  fingerprint(): string {
    return sh("ssh-keygen", ["-l", "-f", path.join(this.dir, "host_key.pub")]).split(" ")[1] ?? "";
  }

  /** Starts sshd in `ns` and waits until it listens. */
  async start(ns: Namespace): Promise<void> {
    const sshd = ns.spawn(
      "/usr/sbin/sshd",
      ["-D", "-e", "-f", path.join(this.dir, "sshd_config")],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    this.sshd = sshd;
    let log = "";
    sshd.stderr?.on("data", (d: Buffer) => (log += d.toString()));
    const deadline = Date.now() + 30_000;
    while (!/Server listening/.test(log)) {
      if (sshd.exitCode !== null) throw new Error(`sshd exited: ${log}`);
      if (Date.now() > deadline) throw new Error(`sshd did not listen: ${log}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** The sshd processes serving connections (children of the listener), for kill -9 tests. */
  sessions(): number[] {
    const pid = Number(fs.readFileSync(path.join(this.dir, "sshd.pid"), "utf8"));
    const out = execFileSync("ps", ["-o", "pid=", "--ppid", String(pid)], {
      stdio: ["ignore", "pipe", "ignore"],
    }).toString();
    return out
      .split("\n")
      .map((l) => Number(l.trim()))
      .filter((n) => n > 0);
  }

  /** sha256 of every regular file of the server, with owner and mode: "untouched" is this unchanged. */
  checksum(): string {
    return sh("sh", [
      "-c",
      `cd ${this.root} && find . -xdev -type f -printf '%p %U:%G %m ' -exec sha256sum {} \\; | sort`,
    ]);
  }

  /** kill -9 of the processes inside the server's chroot (a killed session's children). */
  killChrootProcesses(): void {
    for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
      let root = "";
      try {
        root = fs.readlinkSync(`/proc/${pid}/root`);
      } catch {
        continue;
      }
      if (root === this.root) process.kill(Number(pid), "SIGKILL");
    }
  }

  /** The server's two disks as image files, unmounted (for a machine that boots them). */
  releaseDisks(): { root: string; home: string } {
    this.unmountAll();
    return { root: path.join(this.dir, "root.img"), home: path.join(this.dir, "home.img") };
  }

  private unmountAll(): void {
    for (const at of this.mounts.reverse()) execFileSync("umount", ["-l", at], { stdio: "ignore" });
    this.mounts.length = 0;
  }

  async close(): Promise<void> {
    if (this.sshd && this.sshd.exitCode === null) {
      this.sshd.kill("SIGTERM");
      await new Promise((r) => this.sshd?.once("exit", r));
    }
    this.killChrootProcesses();
    this.unmountAll();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
