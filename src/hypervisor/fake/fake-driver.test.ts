import { runHypervisorDriverContract } from "../driver.contract.js";
import { FakeHost, FakeHypervisorDriver } from "./fake-driver.js";

runHypervisorDriverContract("fake", () => {
  const host = new FakeHost({ bridges: ["xenbr0"], totalMemoryMiB: 4096, dom0MemoryMiB: 512 });
  return Promise.resolve({
    driver: new FakeHypervisorDriver({ host }),
    reopen: () => Promise.resolve(new FakeHypervisorDriver({ host })),
    bridge: "xenbr0",
    boot: (name: string) => ({
      kind: "kernel" as const,
      kernel: "/boot/fake-vmlinuz",
      cmdline: `console=ttyS0 ep_hostname=${name}`,
    }),
    memoryMiB: 256,
    residue: () => Promise.resolve(host.residue()),
    bootTimeoutMs: 2000,
    stopTimeoutMs: 2000,
    teardown: () => Promise.resolve(),
  });
});
