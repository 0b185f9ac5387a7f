import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, test } from "node:test";
import { renderPlanAsShell, shellQuote } from "./shell.js";

describe("renderPlanAsShell", () => {
  test("one ip line per command after set -e, safe words unquoted", () => {
    assert.equal(
      renderPlanAsShell([
        ["link", "add", "link", "eth0", "name", "eth0.10", "type", "vlan", "id", "10"],
        ["link", "set", "dev", "eth0.10", "master", "xenbr10"],
      ]),
      "set -e\nip link add link eth0 name eth0.10 type vlan id 10\nip link set dev eth0.10 master xenbr10\n",
    );
    assert.equal(renderPlanAsShell([]), "set -e\n");
    assert.equal(
      renderPlanAsShell([["link", "set", "dev", "b", "up"]], { ip: "busybox ip" }),
      "set -e\nbusybox ip link set dev b up\n",
    );
  });

  test("a real sh reads every word back unchanged, quotes and all", () => {
    const words = ["it's", "a b", "$(reboot)", "`x`", '"q"', "back\\slash", "*", "~", "#c", ""];
    const script = renderPlanAsShell([words], { ip: "printf '<%s>\\n'" });
    const output = execFileSync("sh", ["-c", script], { encoding: "utf8" });
    assert.equal(output, words.map((w) => `<${w}>\n`).join(""));
  });

  test("shellQuote leaves plain names alone", () => {
    assert.equal(shellQuote("eth1.10"), "eth1.10");
    assert.equal(shellQuote("a'b"), "'a'\\''b'");
  });
});
