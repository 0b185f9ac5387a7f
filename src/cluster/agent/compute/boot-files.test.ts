/**
 * Boot files resolve inside the host's boot directory, on a real file system (temporary
 * folders, real symlinks), and the agent's driver refuses the rest before the hypervisor runs.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isEtherplaneError, type ErrorCode } from "../../../foundation/errors.js";
import type { GuestSpec } from "../../../hypervisor/driver.js";
import { FakeHypervisorDriver } from "../../../hypervisor/fake/fake-driver.js";
import { resolveBootFiles, withBootDirectory } from "./boot-files.js";

describe("boot files from the host's boot directory", () => {
  let dir: string;
  let bootDir: string;
  before(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), "ep-boot-")));
    bootDir = join(dir, "boot");
    await mkdir(join(bootDir, "debian"), { recursive: true });
    await writeFile(join(bootDir, "vmlinuz"), "kernel");
    await writeFile(join(bootDir, "debian", "initrd.img"), "initrd");
    await writeFile(join(dir, "secret"), "host file");
    await symlink(join(bootDir, "vmlinuz"), join(bootDir, "current"));
    await symlink(join(dir, "secret"), join(bootDir, "escape"));
    await symlink("../secret", join(bootDir, "relative-escape"));
    await mkdir(join(dir, "boot-sibling"));
    await writeFile(join(dir, "boot-sibling", "k"), "x");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const kernelBoot = (kernel: string, ramdisk?: string) => ({
    kind: "kernel" as const,
    kernel,
    cmdline: "console=ttyS0",
    ...(ramdisk === undefined ? {} : { ramdisk }),
  });

  async function refused(kernel: string, code: ErrorCode, pattern: RegExp, ramdisk?: string) {
    await assert.rejects(resolveBootFiles(kernelBoot(kernel, ramdisk), bootDir), (e: unknown) => {
      assert.ok(isEtherplaneError(e, code), String(e));
      assert.match(e.message, pattern);
      return true;
    });
  }

  it("takes files inside it, absolute or relative, symlinks resolved", async () => {
    assert.deepEqual(
      await resolveBootFiles(kernelBoot(join(bootDir, "current"), "debian/initrd.img"), bootDir),
      kernelBoot(join(bootDir, "vmlinuz"), join(bootDir, "debian", "initrd.img")),
    );
  });

  it("refuses a host file outside it, naming the directory (issue 10: ramdisk = /etc/shadow)", async () => {
    await refused(
      "vmlinuz",
      "FORBIDDEN",
      /ramdisk "\/etc\/shadow" is outside this host's boot directory/,
      "/etc/shadow",
    );
    await refused(join(dir, "secret"), "FORBIDDEN", new RegExp(`boot directory ${bootDir}`));
    await refused(join(bootDir, "..", "secret"), "FORBIDDEN", /outside/);
    await refused("../secret", "FORBIDDEN", /outside/);
    await refused(join(dir, "boot-sibling", "k"), "FORBIDDEN", /outside/);
  });

  it("follows symlinks: one that leads out is refused, and says where it leads", async () => {
    await refused(join(bootDir, "escape"), "FORBIDDEN", /resolves to .*secret/);
    await refused("relative-escape", "FORBIDDEN", /outside/);
  });

  it("says what is missing: the file, or the directory itself", async () => {
    await refused("nope", "NOT_FOUND", /kernel "nope" does not exist.*boot directory/);
    await refused(join(bootDir, "debian"), "INVALID_CONFIG", /not a regular file/);
    await assert.rejects(
      resolveBootFiles(kernelBoot("vmlinuz"), join(dir, "none")),
      /boot directory .*none is missing.*--boot-dir/,
    );
  });

  it("lets a firmware boot (the guest's own disk) through untouched", async () => {
    assert.deepEqual(await resolveBootFiles({ kind: "firmware" }, join(dir, "none")), {
      kind: "firmware",
    });
  });

  it("the agent's driver creates nothing for a refused path, and boots the resolved one", async () => {
    const fake = new FakeHypervisorDriver();
    const driver = withBootDirectory(fake, bootDir);
    const spec: GuestSpec = {
      name: "web1",
      uuid: "6b3c1f0e-2d8a-4c55-9f3e-0a1b2c3d4e5f",
      memoryMiB: 64,
      vcpus: 1,
      boot: kernelBoot("current", "/etc/shadow"),
      disks: [],
      vifs: [],
    };
    await assert.rejects(driver.create(spec), /outside this host's boot directory/);
    assert.deepEqual(await fake.list(), []);
    await driver.create({ ...spec, boot: kernelBoot("current") });
    assert.deepEqual(
      (await driver.list()).map((g) => g.name),
      ["web1"],
    );
  });
});
