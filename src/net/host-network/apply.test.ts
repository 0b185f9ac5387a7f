/**
 * applyHostNetwork's error paths that a real kernel does not produce on demand: a command that
 * "succeeds" without effect, busybox's wording for a missing 8021q, a failing command mid-plan.
 * The runner here is a fake (a scripted `ip`); the real paths run in host-network.integ.test.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import { applyHostNetwork, readObserved, removeHostNetwork } from "./apply.js";
import type { CommandResult } from "../../host/command-runner.js";
import type { IpRunner } from "./ip-runner.js";

const linkShow = (links: object[]) =>
  JSON.stringify(links.map((l, i) => ({ ifindex: i + 1, flags: ["UP"], mtu: 1500, ...l })));

/** Answers `ip -j -d link show` with `state()` and every other command with `answer(args)`. */
function fakeIp(
  state: () => object[],
  answer: (args: readonly string[]) => CommandResult = () => ({ code: 0, stdout: "", stderr: "" }),
): IpRunner & { calls: string[] } {
  const calls: string[] = [];
  const runner = (args: readonly string[]) => {
    calls.push(args.join(" "));
    if (args[0] === "-j")
      return Promise.resolve({ code: 0, stdout: linkShow(state()), stderr: "" });
    return Promise.resolve(answer(args));
  };
  return Object.assign(runner, { calls });
}

describe("applyHostNetwork with a fake ip", () => {
  test("an already converged host runs nothing after the one observation", async () => {
    const runner = fakeIp(() => [{ ifname: "xenbr9", linkinfo: { info_kind: "bridge" } }]);
    assert.deepEqual(await applyHostNetwork({ name: "n", bridge: "xenbr9" }, { runner }), {
      applied: [],
    });
    assert.deepEqual(runner.calls, ["-j -d link show"]);
  });

  test("IO_ERROR when the commands succeed but the host does not change", async () => {
    const runner = fakeIp(() => [{ ifname: "lo" }]);
    await assert.rejects(applyHostNetwork({ name: "n", bridge: "xenbr9" }, { runner }), (error) => {
      assert.ok(isEtherplaneError(error, "IO_ERROR"));
      assert.match(
        error.message,
        /did not converge; still to do: ip link add name xenbr9 type bridge; ip link set dev xenbr9 up/,
      );
      return true;
    });
    assert.equal(runner.calls.at(-1), "-j -d link show");
  });

  test("busybox's 'Operation not supported' on a VLAN add is the missing-8021q UNAVAILABLE", async () => {
    const runner = fakeIp(
      () => [{ ifname: "eth1" }],
      (args) =>
        args.includes("vlan")
          ? { code: 2, stdout: "", stderr: "ip: RTNETLINK answers: Operation not supported\n" }
          : { code: 0, stdout: "", stderr: "" },
    );
    await assert.rejects(
      applyHostNetwork({ name: "v", bridge: "b", uplink: "eth1", vlanId: 7 }, { runner }),
      (error) => isEtherplaneError(error, "UNAVAILABLE") && /modprobe 8021q/.test(error.message),
    );
    assert.equal(runner.calls.length, 2, "stops at the first failure");
  });

  test("any other failure is IO_ERROR naming the command, ip's message and what ran before", async () => {
    const runner = fakeIp(
      () => [{ ifname: "eth1" }],
      (args) =>
        args.includes("master")
          ? {
              code: 2,
              stdout: "",
              stderr: "RTNETLINK answers: Too many levels of symbolic links\n",
            }
          : { code: 0, stdout: "", stderr: "" },
    );
    await assert.rejects(
      applyHostNetwork({ name: "lan", bridge: "b", uplink: "eth1" }, { runner }),
      (error) => {
        assert.ok(isEtherplaneError(error, "IO_ERROR"));
        assert.match(
          error.message,
          /ip link set dev eth1 master b failed \(exit 2\): RTNETLINK answers: Too many levels/,
        );
        assert.match(error.message, /after ip link add name b type bridge/);
        assert.deepEqual(error.params["applied"], ["ip link add name b type bridge"]);
        return true;
      },
    );
  });

  test("a failing observation is IO_ERROR; an invalid spec fails before any ip runs", async () => {
    const failing: IpRunner = () =>
      Promise.resolve({ code: 1, stdout: "", stderr: "Cannot open netlink socket\n" });
    await assert.rejects(
      readObserved({ runner: failing }),
      /link show failed \(exit 1\): Cannot open netlink socket/,
    );
    const runner = fakeIp(() => []);
    await assert.rejects(
      removeHostNetwork({ name: "n", bridge: "" }, { runner }),
      /bridge "" is empty/,
    );
    assert.deepEqual(runner.calls, []);
  });
});
