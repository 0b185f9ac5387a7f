/**
 * The "physical server" as a real machine with its own kernel (issue 15's tests): the P2V source
 * tree of p2v-source.ts (ext4 root with a UUID, /home on a second ext4 disk, owners, ACLs,
 * xattrs, hard links, a sparse file), made bootable with the domain guest kit's Debian kernel
 * and initrd, plus Debian's OpenSSH sshd and its libraries, booted as a QEMU guest (TCG) from its
 * two disks (virtio: / on vda, /home on vdb). Its rcS brings up eth0 on QEMU's user-mode network
 * (10.0.2.15, QEMU's slirp defaults) and starts sshd; QEMU forwards 127.0.0.1:PORT of the given
 * namespace to the guest's port 22, so a P2V client in that namespace reaches the server over
 * SSH and nothing else does (slirp opens no interface on the host).
 *
 * The same rcS runs in the copy when it boots as a domain: with no network card there, it skips
 * the network and sshd.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ChildProcess } from "node:child_process";
import type { Namespace } from "./netns.js";
import { copyInto, libraries, P2vSource } from "./p2v-source.js";

const SSHD = "/usr/sbin/sshd";
const MEMORY_MIB = 256;
/** What the source's rcS prints once its sshd runs. */
export const SOURCE_SSHD_UP = "EP-P2V sshd up";
const GUEST_MAC = "52:54:00:50:32:76";

export interface MachineKit {
  kernel: string;
  initrd: string;
  release: string;
}

export class P2vMachine {
  private qemu: ChildProcess | undefined;
  readonly consoleLog: string;

  private constructor(
    readonly source: P2vSource,
    private readonly kit: MachineKit,
  ) {
    this.consoleLog = path.join(source.dir, "console.log");
  }

  get port(): number {
    return this.source.port;
  }
  get identity(): string {
    return this.source.identity;
  }
  get knownHosts(): string {
    return this.source.knownHosts;
  }

  /** Builds the server's disks (p2v-source.ts, then sshd); start() boots them. */
  static create(tag: string, kit: MachineKit): P2vMachine {
    // The server's /boot holds the compressed bzImage, as a real server's does (what a boot
    // loader such as extlinux loads); QEMU boots the machine itself from the faster raw vmlinux.
    const bzImage = path.join(path.dirname(kit.kernel), "vmlinuz");
    const kernel = fs.existsSync(bzImage) ? bzImage : kit.kernel;
    const source = P2vSource.create(tag, {
      boot: { kernel, initrd: kit.initrd },
      bootRelease: kit.release,
    });
    try {
      installSshd(source);
    } catch (error) {
      void source.close();
      throw error;
    }
    return new P2vMachine(source, kit);
  }

  /** Boots the server in `ns` and waits (up to `deadlineMs`) until its sshd answers there. */
  async start(ns: Namespace, deadlineMs: number): Promise<void> {
    const disks = this.source.releaseDisks();
    const drive = (file: string) => ["-drive", `file=${file},format=raw,if=virtio,cache=unsafe`];
    this.qemu = ns.spawn(
      "qemu-system-x86_64",
      [
        ...["-machine", "pc", "-accel", "tcg", "-m", String(MEMORY_MIB), "-smp", "1"],
        ...["-nodefaults", "-display", "none", "-no-reboot"],
        ...["-serial", `file:${this.consoleLog}`],
        ...["-kernel", this.kit.kernel, "-initrd", this.kit.initrd],
        ...["-append", "console=ttyS0 root=/dev/vda rw"],
        ...drive(disks.root),
        ...drive(disks.home),
        ...["-netdev", `user,id=n0,hostfwd=tcp:127.0.0.1:${this.port}-:22`],
        ...["-device", `virtio-net-pci,netdev=n0,mac=${GUEST_MAC},romfile=`],
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    this.qemu.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + deadlineMs;
    // slirp accepts a forwarded connection before the guest listens: wait for sshd's own banner.
    for (;;) {
      if (this.qemu.exitCode !== null) throw new Error(`QEMU exited: ${stderr}\n${this.console()}`);
      if (this.console().includes(SOURCE_SSHD_UP)) {
        const scan = await ns
          .exec("ssh-keyscan", ["-T", "10", "-p", String(this.port), "127.0.0.1"], 30_000)
          .catch(() => ({ stdout: "" }));
        if (/ssh-ed25519/.test(scan.stdout)) return;
      }
      if (Date.now() > deadline)
        throw new Error(`the source machine's sshd did not answer: ${stderr}\n${this.console()}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  console(): string {
    try {
      return fs.readFileSync(this.consoleLog, "utf8");
    } catch {
      return "";
    }
  }

  fingerprint(): string {
    return this.source.fingerprint();
  }

  async close(): Promise<void> {
    const qemu = this.qemu;
    if (qemu && qemu.exitCode === null) {
      const exited = new Promise((r) => qemu.once("exit", r));
      qemu.kill("SIGKILL");
      await exited;
    }
    await this.source.close();
  }
}

/** sshd, its libraries, host key, root's authorized key, and the rcS lines that start it. */
function installSshd(source: P2vSource): void {
  const { root, dir } = source;
  copyInto(root, SSHD);
  for (const lib of libraries(SSHD)) if (!fs.existsSync(path.join(root, lib))) copyInto(root, lib);
  for (const d of ["etc/ssh", "run/sshd", "root/.ssh"])
    fs.mkdirSync(path.join(root, d), { recursive: true, mode: 0o755 });
  fs.chmodSync(path.join(root, "root/.ssh"), 0o700);
  fs.copyFileSync(path.join(dir, "host_key"), path.join(root, "etc/ssh/ssh_host_ed25519_key"));
  fs.chmodSync(path.join(root, "etc/ssh/ssh_host_ed25519_key"), 0o600);
  fs.copyFileSync(path.join(dir, "authorized_keys"), path.join(root, "root/.ssh/authorized_keys"));
  fs.writeFileSync(
    path.join(root, "etc/ssh/sshd_config"),
    [
      "Port 22",
      "HostKey /etc/ssh/ssh_host_ed25519_key",
      "PidFile /run/sshd.pid",
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "",
    ].join("\n"),
  );
  // sshd's privilege separation user; glibc reads these without an NSS module.
  fs.appendFileSync(
    path.join(root, "etc/passwd"),
    "sshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n",
  );
  fs.appendFileSync(path.join(root, "etc/group"), "nogroup:x:65534:\n");
  fs.writeFileSync(
    path.join(root, "etc/nsswitch.conf"),
    "passwd: files\ngroup: files\nshadow: files\nhosts: files\n",
  );
  // The machine's disks as its kernel names them (virtio), as a server's fstab would.
  const fstab = path.join(root, "etc/fstab");
  fs.writeFileSync(
    fstab,
    fs
      .readFileSync(fstab, "utf8")
      .replace("/dev/sda3 /home", "/dev/vdb /home")
      .replace("/dev/sda2 none swap", "/dev/vdc none swap"),
  );
  fs.appendFileSync(
    path.join(root, "etc/init.d/rcS"),
    [
      "mount -t sysfs sysfs /sys 2>/dev/null",
      "if [ -e /sys/class/net/eth0 ]; then",
      "  ip link set lo up; ip link set eth0 up",
      "  ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2",
      `  ${SSHD} -f /etc/ssh/sshd_config -E /var/log/sshd.log && echo "${SOURCE_SSHD_UP}"`,
      "fi",
      "",
    ].join("\n"),
  );
  fs.mkdirSync(path.join(root, "sys"), { recursive: true });
}
