/**
 * `etherplane p2v` against a real sshd (test/lab/p2v-source.ts: OpenSSH in a namespace, its
 * sessions chrooted into a server's own ext4 root with /home on a second file system), into a
 * volume of `etherplane up` in the same namespace (the storage host: loop over the pool file).
 * Asserts the copy (checksums, owners, modes, hard links, sparse size, xattrs, ACLs), the fix-ups
 * listed in the report, the domain defined, --final counting only changes, and refusals (wrong
 * host key, no space, unreachable source, the SSH connection killed mid-copy) that leave no volume
 * and the source untouched. Nothing boots here.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import type { AoeLink } from "../../../test/lab/aoe-lab.js";
import { spawnCli } from "../../../test/lab/cli-process.js";
import { startUpBox, type UpBox } from "../../../test/lab/up-box.js";
import { P2vSource, SOURCE_HOSTNAME } from "../../../test/lab/p2v-source.js";
import type { VolumeRecord } from "../../cluster/model.js";

const DEADLINE_MS = 120_000;

describe("etherplane p2v from a real sshd", { timeout: 600_000 }, () => {
  let box: UpBox;
  let link: AoeLink;
  let source: P2vSource;
  let bootDir: string;
  let checkMount: string;
  const cli = (args: string[]) => box.cli(args, { timeoutMs: DEADLINE_MS });
  /** `etherplane p2v` from the source as `name`, with its key, host key and boot directory. */
  const p2vArgs = (name: string, extra: string[] = []) => [
    "p2v",
    `root@127.0.0.1:${source.port}`,
    "--name",
    name,
    "--identity",
    source.identity,
    "--known-hosts",
    source.knownHosts,
    "--boot-dir",
    bootDir,
    ...extra,
  ];
  const p2v = (name: string, extra: string[] = []) => cli(p2vArgs(name, extra));
  const volumes = async () => {
    const reply = await cli(["volume", "list", "--json"]);
    assert.equal(reply.code, 0, reply.stderr);
    return (JSON.parse(reply.stdout) as { volumes: VolumeRecord[] }).volumes;
  };
  /** Mounts the volume's pool file read-only here, runs `check`, unmounts. */
  const inVolume = async <T>(name: string, check: (root: string) => T): Promise<T> => {
    const volume = (await volumes()).find((v) => v.name === name);
    assert.ok(volume, `volume ${name} exists`);
    const file = execFileSync("sh", [
      "-c",
      `ls ${link.dir}/data/*/${volume.id}.img ${link.dir}/data/*/*/${volume.id}.img 2>/dev/null | head -n1`,
    ])
      .toString()
      .trim();
    assert.ok(file, `the pool file of ${name}`);
    execFileSync("mount", ["-o", "ro,loop", file, checkMount]);
    try {
      return check(checkMount);
    } finally {
      execFileSync("umount", [checkMount]);
    }
  };

  before(async () => {
    box = await startUpBox({ tag: "p2v", listen: "127.0.0.1:7394" });
    link = box.link;
    source = P2vSource.create("p2vsrc");
    await source.start(link.targetNs);
    bootDir = path.join(link.dir, "boot");
    checkMount = path.join(link.dir, "check");
    fs.mkdirSync(checkMount);
  });

  after(async () => {
    await source?.close();
    await box?.close();
  });

  test("--dry-run prints the plan and changes nothing", async () => {
    const before = source.checksum();
    const reply = await p2v("noc", ["--dry-run"]);
    assert.equal(reply.code, 0, reply.stderr);
    assert.match(reply.stdout, /plan for noc \(dry run: nothing was changed/);
    assert.match(reply.stdout, /^ {4}\/ \(\/dev\/loop\d+, ext4\)$/m);
    assert.match(reply.stdout, /^ {4}\/home \(\/dev\/loop\d+, ext4\)$/m);
    assert.match(reply.stdout, /^ {4}\/proc \(proc\): \/proc is filled by the kernel/m);
    assert.match(reply.stdout, /fstab: root UUID=\S+ \(ext4\) -> UUID=<new-uuid> \(ext4\)/);
    assert.match(reply.stdout, /disk = \[ "phy:\/dev\/etherd\/eS\.L,xvda,w" \]/);
    assert.deepEqual(await volumes(), []);
    assert.equal(source.checksum(), before);
  });

  test("refusals: wrong host key, unknown host, no space, unreachable source; no volume, source untouched", async () => {
    const before = source.checksum();
    const wrongPin = await p2v("noc", ["--host-key", "SHA256:" + "A".repeat(43)]);
    assert.equal(wrongPin.code, 5, wrongPin.stderr);
    assert.match(wrongPin.stderr, /not the one --host-key pins: refusing/);
    const emptyKnown = path.join(link.dir, "empty_known_hosts");
    fs.writeFileSync(emptyKnown, "");
    const unknown = await cli([
      "p2v",
      `root@127.0.0.1:${source.port}`,
      "--name",
      "noc",
      "--identity",
      source.identity,
      "--known-hosts",
      emptyKnown,
    ]);
    assert.equal(unknown.code, 5, unknown.stderr);
    assert.match(unknown.stderr, /is not in known_hosts/);
    assert.match(unknown.stderr, new RegExp(source.fingerprint().replace(/[+/]/g, "\\$&")));
    const noSpace = await p2v("noc", ["--size", "40M"]);
    assert.equal(noSpace.code, 7, noSpace.stderr);
    assert.match(noSpace.stderr, /cannot hold the source's \d+ used bytes.*nothing was created/);
    const unreachable = await cli([
      "p2v",
      "root@127.0.0.1:2299",
      "--name",
      "noc",
      "--identity",
      source.identity,
      "--known-hosts",
      source.knownHosts,
    ]);
    assert.equal(unreachable.code, 4, unreachable.stderr);
    assert.match(unreachable.stderr, /cannot reach the source root@127\.0\.0\.1:2299/);
    const noVolume = await p2v("noc", ["--final"]);
    assert.equal(noVolume.code, 3, noVolume.stderr);
    assert.match(noVolume.stderr, /--final: there is no volume noc; run the first pass/);
    assert.deepEqual(await volumes(), []);
    assert.equal(source.checksum(), before);
  });

  test("the SSH connection killed mid-copy: a clear error, the volume deleted, the source untouched", async () => {
    const before = source.checksum();
    // The server's tar waits for the test before streaming, so the kill lands mid-copy.
    const tar = path.join(source.root, "usr/bin/tar");
    fs.renameSync(tar, `${tar}.real`);
    fs.writeFileSync(
      tar,
      '#!/bin/sh\n[ "$1" = --version ] && exec /usr/bin/tar.real "$@"\ntouch /tmp/tar-waiting\nwhile [ ! -e /tmp/tar-go ]; do sleep 0.1; done\nexec /usr/bin/tar.real "$@"\n',
      { mode: 0o755 },
    );
    try {
      const child = spawnCli(p2vArgs("cut"), { ns: link.targetNs, env: box.env });
      let stderr = "";
      child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((r) => child.once("close", r));
      const waiting = path.join(source.root, "tmp/tar-waiting");
      const deadline = Date.now() + DEADLINE_MS;
      while (!fs.existsSync(waiting)) {
        assert.ok(Date.now() < deadline, `the source's tar never started: ${stderr}`);
        assert.equal(child.exitCode, null, `p2v exited before the copy: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(
        (await volumes()).some((v) => v.name === "cut"),
        true,
        "the volume exists during the copy",
      );
      for (const pid of source.sessions()) process.kill(pid, "SIGKILL");
      const code = await exited;
      assert.notEqual(code, 0);
      assert.match(
        stderr,
        /copy of \/ was interrupted.*volume cut deleted \(--keep-partial keeps it/s,
      );
      assert.deepEqual(
        (await volumes()).map((v) => v.name),
        [],
      );
    } finally {
      // The killed session's tar wrapper is still waiting: it goes too.
      source.killChrootProcesses();
      fs.rmSync(path.join(source.root, "tmp/tar-waiting"), { force: true });
      fs.renameSync(`${tar}.real`, tar);
    }
    assert.equal(source.checksum(), before);
  });

  test("copies the server into a volume, fixes it, defines the domain; --final copies only the changes", async () => {
    const before = source.checksum();
    const reply = await p2v("noc", ["--memory", "256", "--vcpus", "1"]);
    assert.equal(reply.code, 0, reply.stderr);
    assert.match(
      reply.stdout,
      /^noc: copied \S+ \(\d+ files\) from root@127\.0\.0\.1:2222 into volume noc \(e\d+\.\d+\)$/m,
    );
    assert.match(
      reply.stdout,
      /changed: fstab: root UUID=\S+ \(ext4\) -> UUID=(\S+) \(ext4\), the new volume; fstab: commented out \/dev\/sda3 \/home \(\/home was copied into the root file system\); fstab: commented out \/dev\/sda2 none \(swap/,
    );
    assert.match(
      reply.stdout,
      /changed: inittab: getty on ttyS0 \(T0:2345:respawn:\/sbin\/getty 38400 ttyS0\)/,
    );
    assert.match(
      reply.stdout,
      /NOT changed: the copy's \/etc\/securetty was not changed: \/etc\/securetty is a symlink/,
    );
    assert.match(reply.stdout, new RegExp(`hostname kept: ${SOURCE_HOSTNAME}`));
    assert.match(reply.stdout, /changed: kernel: \/boot\/vmlinuz-\S+ copied to/);
    assert.match(reply.stdout, /is still running: switch it off/);
    assert.equal(source.checksum(), before, "the source is untouched");
    const release = execFileSync("uname", ["-r"]).toString().trim();
    assert.equal(
      fs.readFileSync(path.join(bootDir, `p2v-noc-vmlinuz-${release}`), "utf8"),
      "not a real kernel\n",
    );

    const shown = await cli(["domain", "export", "noc"]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /disk = \[ "phy:\/dev\/etherd\/e\d+\.\d+,xvda,w" \]/);
    assert.match(shown.stdout, /extra = "console=ttyS0 net\.ifnames=0"/);
    assert.match(shown.stdout, /memory = 256/);

    const src = (p: string) => path.join(source.root, p);
    await inVolume("noc", (root) => {
      const dst = (p: string) => path.join(root, p);
      for (const f of [
        "srv/data/owned",
        "srv/data/random",
        "srv/data/sparse",
        "srv/data/tagged",
        "var/log/app.log",
        "home/notes.txt",
        "bin/busybox",
      ])
        assert.deepEqual(fs.readFileSync(dst(f)), fs.readFileSync(src(f)), f);
      const owned = fs.statSync(dst("srv/data/owned"));
      assert.deepEqual([owned.uid, owned.gid, owned.mode & 0o7777], [1234, 5678, 0o640]);
      assert.equal(
        fs.statSync(dst("srv/data/linked-a")).ino,
        fs.statSync(dst("srv/data/linked-b")).ino,
        "hard link kept",
      );
      const sparse = fs.statSync(dst("srv/data/sparse"));
      assert.equal(sparse.size, 32 * 1024 ** 2);
      assert.ok(
        sparse.blocks * 512 < 1024 ** 2,
        `sparse file stays sparse (${sparse.blocks} blocks)`,
      );
      assert.match(
        execFileSync("getfattr", [
          "-n",
          "user.p2v",
          "--only-values",
          dst("srv/data/tagged"),
        ]).toString(),
        /^kept$/,
      );
      assert.match(
        execFileSync("getfacl", ["-n", "-p", dst("srv/data/tagged")]).toString(),
        /^user:1001:r--$/m,
      );
      assert.ok(
        fs.lstatSync(dst("etc/securetty")).isSymbolicLink(),
        "the copy's symlink is left as it was",
      );
      const fstab = fs.readFileSync(dst("etc/fstab"), "utf8");
      const uuid = execFileSync("blkid", [
        "-s",
        "UUID",
        "-o",
        "value",
        execFileSync("findmnt", ["-n", "-o", "SOURCE", root]).toString().trim(),
      ])
        .toString()
        .trim();
      assert.match(fstab, new RegExp(`^UUID=${uuid}\\t/\\text4\\terrors=remount-ro\\t0\\t1$`, "m"));
      assert.match(fstab, /^# \/dev\/sda2 none swap sw 0 0$/m);
      assert.match(fstab, /^# \/dev\/sda3 \/home ext4 defaults 0 2$/m);
      assert.match(
        fs.readFileSync(dst("etc/inittab"), "utf8"),
        /^T0:2345:respawn:\/sbin\/getty 38400 ttyS0$/m,
      );
      assert.deepEqual(fs.readdirSync(dst("proc")), [], "the source's /proc is not copied");
    });

    // The administrator stops the services; two files change, one is new, one goes.
    fs.writeFileSync(src("var/log/app.log"), "started\nstopped\n");
    fs.writeFileSync(src("home/notes.txt"), "changed before the final pass\n");
    fs.writeFileSync(src("srv/data/new"), "written after the first pass\n");
    fs.rmSync(src("srv/data/random"));
    const final = await p2v("noc", ["--final", "--json"]);
    assert.equal(final.code, 0, final.stderr);
    const done = final.stdout
      .trim()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as {
            event: string;
            report?: { files: number; deleted: number; changes: string[] };
          },
      )
      .find((e) => e.event === "done");
    // The three changed files, plus the fix-up's files rsync brought back to the source's version.
    const fixedFiles = ["etc/fstab", "etc/inittab"].length;
    assert.equal(done?.report?.files, 3 + fixedFiles, JSON.stringify(done));
    assert.equal(done?.report?.deleted, 1);
    assert.ok(
      done?.report?.changes.some((c) => /^fstab: root/.test(c)),
      "fix-ups made again",
    );
    await inVolume("noc", (root) => {
      assert.equal(
        fs.readFileSync(path.join(root, "home/notes.txt"), "utf8"),
        "changed before the final pass\n",
      );
      assert.equal(
        fs.readFileSync(path.join(root, "var/log/app.log"), "utf8"),
        "started\nstopped\n",
      );
      assert.equal(fs.existsSync(path.join(root, "srv/data/random")), false);
      assert.equal(
        fs.readFileSync(path.join(root, "srv/data/new"), "utf8"),
        "written after the first pass\n",
      );
      assert.match(fs.readFileSync(path.join(root, "etc/inittab"), "utf8"), /ttyS0/);
    });
    // A first pass again under the same name is refused: the volume is there.
    const again = await p2v("noc");
    assert.equal(again.code, 8, again.stderr);
    assert.match(again.stderr, /bring that copy up to date with --final/);
    assert.equal((await volumes()).filter((v) => v.name === "noc").length, 1);
  });
});
