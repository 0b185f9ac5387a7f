import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isEtherplaneError } from "../../foundation/errors.js";
import {
  bridgePortName,
  interfaceNameProblem,
  validateHostNetworkSpec,
  type HostNetworkSpec,
} from "./spec.js";

function refused(spec: HostNetworkSpec, field: string, pattern: RegExp): void {
  assert.throws(
    () => validateHostNetworkSpec(spec),
    (error) =>
      isEtherplaneError(error, "INVALID_ARGUMENT") &&
      error.params["field"] === field &&
      pattern.test(error.message),
  );
}

describe("interfaceNameProblem", () => {
  test("accepts what Linux accepts in printable ASCII", () => {
    for (const name of [
      "eth0",
      "xenbr1",
      "eth1.10",
      "enp0s31f6.4094",
      "a",
      "x".repeat(15),
      "br-lan_1",
    ]) {
      assert.equal(interfaceNameProblem(name), undefined, name);
    }
  });

  test("refuses empty, too long, . and .., whitespace, / and :, non-ASCII, non-strings", () => {
    assert.match(interfaceNameProblem("") ?? "", /empty/);
    assert.match(interfaceNameProblem("x".repeat(16)) ?? "", /16 characters.*15/);
    assert.match(interfaceNameProblem(".") ?? "", /\. or \.\./);
    assert.match(interfaceNameProblem("..") ?? "", /\. or \.\./);
    assert.match(interfaceNameProblem("xen br") ?? "", /whitespace/);
    assert.match(interfaceNameProblem("br\t0") ?? "", /whitespace/);
    assert.match(interfaceNameProblem("br/0") ?? "", /"\/"/);
    assert.match(interfaceNameProblem("eth0:1") ?? "", /":"/);
    assert.match(interfaceNameProblem("brü") ?? "", /printable ASCII/);
    assert.match(interfaceNameProblem(7) ?? "", /not a string/);
  });
});

describe("validateHostNetworkSpec", () => {
  test("accepts host-only, uplink, and VLAN networks with an MTU", () => {
    validateHostNetworkSpec({ name: "internal", bridge: "xenbr9" });
    validateHostNetworkSpec({ name: "lan", bridge: "xenbr1", uplink: "eth1", mtu: 9000 });
    validateHostNetworkSpec({ name: "v10", bridge: "xenbr10", uplink: "eth1", vlanId: 10 });
    validateHostNetworkSpec({ name: "v", bridge: "b", uplink: "eth1", vlanId: 4094, mtu: 68 });
    // The controller's records carry null for "none".
    validateHostNetworkSpec({ name: "n", bridge: "b", uplink: null, vlanId: null, mtu: null });
  });

  test("names the field and the fix", () => {
    refused({ name: "", bridge: "xenbr1" }, "name", /letters, digits/);
    refused({ name: "a b", bridge: "xenbr1" }, "name", /not a network name/);
    refused({ name: "n".repeat(65), bridge: "xenbr1" }, "name", /1-64/);
    refused(
      { name: "lan", bridge: "xenbridge-for-lan" },
      "bridge",
      /^network "lan": bridge .*over Linux's 15.*e\.g\. xenbr1/,
    );
    refused({ name: "lan", bridge: "xen br" }, "bridge", /whitespace/);
    refused(
      { name: "lan", bridge: "xenbr1", uplink: "../x" },
      "uplink",
      /"\/".*existing host interface/,
    );
    refused({ name: "lan", bridge: "eth1", uplink: "eth1" }, "uplink", /both eth1/);
    refused(
      { name: "lan", bridge: "b", uplink: "eth1", vlanId: 0 },
      "vlanId",
      /0 is outside 1\.\.4094/,
    );
    refused({ name: "lan", bridge: "b", uplink: "eth1", vlanId: 4095 }, "vlanId", /4095/);
    refused({ name: "lan", bridge: "b", uplink: "eth1", vlanId: 1.5 }, "vlanId", /1\.5/);
    refused({ name: "lan", bridge: "b", vlanId: 10 }, "vlanId", /needs an uplink.*eth1/);
    refused(
      { name: "lan", bridge: "b", uplink: "enp0s31f6np0", vlanId: 100 },
      "uplink",
      /enp0s31f6np0\.100.*shorter/,
    );
    refused({ name: "lan", bridge: "eth1.10", uplink: "eth1", vlanId: 10 }, "bridge", /xenbr10/);
    refused({ name: "lan", bridge: "b", mtu: 67 }, "mtu", /67 is outside 68\.\.65535.*9000/);
    refused({ name: "lan", bridge: "b", mtu: 65536 }, "mtu", /65536/);
    // JSON can carry any type.
    refused({ name: "lan", bridge: "b", mtu: "9000" as unknown as number }, "mtu", /9000/);
    refused({ name: "lan", bridge: 1 as unknown as string }, "bridge", /not a string/);
  });
});

describe("bridgePortName", () => {
  test("is the VLAN interface, the uplink, or nothing", () => {
    assert.equal(bridgePortName({ name: "n", bridge: "b", uplink: "eth1", vlanId: 10 }), "eth1.10");
    assert.equal(bridgePortName({ name: "n", bridge: "b", uplink: "eth1" }), "eth1");
    assert.equal(bridgePortName({ name: "n", bridge: "b", uplink: null }), undefined);
  });
});
