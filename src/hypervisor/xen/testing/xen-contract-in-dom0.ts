/**
 * The shared driver contract (driver.contract.ts) for the xen driver, to run with `node --test`
 * inside the Xen host lab's dom0 (xen-driver.integ.test.ts boots it and ships the
 * files): the domain guest kit's console guest boots as a PV guest on `hvc0`. Settings come
 * from the environment, since the file runs in another machine:
 *
 *   EP_XEN_KERNEL, EP_XEN_INITRD   the guest's kernel and initramfs in dom0
 *   EP_XEN_SCRIPT                  util-linux script in dom0, for the console
 *   EP_XEN_STATE_DIR               the driver's folder (created)
 */
import { readdir } from "node:fs/promises";
import { runHypervisorDriverContract } from "../../driver.contract.js";
import { XenDriver } from "../xen-driver.js";

const env = (key: string): string => {
  const value = process.env[key];
  if (value === undefined) throw new Error(`${key} is not set`);
  return value;
};

/** What guests can leave in dom0: domains, vif backends, config files. */
async function residue(driver: XenDriver, stateDir: string): Promise<string[]> {
  const domains = (await driver.list())
    .filter((guest) => guest.domid !== 0)
    .map((guest) => `domain ${guest.name}`);
  const vifs = (await readdir("/sys/class/net"))
    .filter((name) => /^vif\d+\.\d+/.test(name))
    .map((name) => `vif ${name}`);
  const files = (await readdir(stateDir).catch(() => [])).map((name) => `file ${name}`);
  return [...domains, ...vifs, ...files].sort();
}

runHypervisorDriverContract("xen", () => {
  const stateDir = env("EP_XEN_STATE_DIR");
  const open = () =>
    new XenDriver({
      stateDir,
      scriptPath: env("EP_XEN_SCRIPT"),
      // xl console takes seconds to start under TCG.
      consoleAttachWaitMs: 60_000,
    });
  const driver = open();
  return Promise.resolve({
    driver,
    reopen: () => Promise.resolve(open()),
    bridge: "xenbr0",
    boot: (name: string) => ({
      kind: "kernel" as const,
      kernel: env("EP_XEN_KERNEL"),
      ramdisk: env("EP_XEN_INITRD"),
      cmdline: `console=hvc0 ep_hostname=${name}`,
    }),
    memoryMiB: 128,
    residue: () => residue(driver, stateDir),
    // A PV guest in a dom0 emulated by TCG: beside a second full test run its boot stalled past
    // 180 s once (kernel log quiet from 6.7 s to 67.9 s of guest time), so the same bound as the
    // other Xen steps (domains-xen.integ STEP_MS_MAX); the in-dom0 run allows 19 min in all.
    bootTimeoutMs: 420_000,
    stopTimeoutMs: 90_000,
    teardown: () => Promise.resolve(),
  });
});
