import assert from "node:assert/strict";
import { test } from "node:test";
import { kvmProbeFirmware } from "./accel.js";
import { parseBridgeShow, tapName } from "./host-net.js";
import { parseQemuVersion } from "./qemu-driver.js";

// `ip -j -d link show dev X` (iproute2 6.1), trimmed to the fields that matter plus a few others.
const bridgeJson =
  '[{"ifindex":2,"ifname":"epbr0","flags":["BROADCAST","MULTICAST"],"mtu":9000,"qdisc":"noop","operstate":"DOWN","linkinfo":{"info_kind":"bridge","info_data":{"forward_delay":1500,"stp_state":0}},"num_tx_queues":1}]';
const vethJson =
  '[{"ifindex":4,"link":"v1","ifname":"v0","flags":["BROADCAST","MULTICAST","M-DOWN"],"mtu":1500,"linkinfo":{"info_kind":"veth"}}]';

void test("bridge lookup: a bridge's MTU, or why the link cannot be used", () => {
  assert.deepEqual(parseBridgeShow("epbr0", bridgeJson), { name: "epbr0", mtu: 9000 });
  assert.equal(parseBridgeShow("v0", vethJson), "v0 is not a bridge");
  assert.match(parseBridgeShow("epbr0", "[]") as string, /no such link/);
  assert.match(parseBridgeShow("epbr0", "{oops") as string, /not JSON/);
  assert.match(parseBridgeShow("v0", bridgeJson) as string, /no such link/);
  assert.match(
    parseBridgeShow("epbr0", bridgeJson.replace('"mtu":9000', '"mtu":"x"')) as string,
    /no valid MTU/,
  );
});

void test("taps are named like Xen's netback interfaces and fit IFNAMSIZ", () => {
  assert.equal(tapName(1, 0), "vif1.0");
  assert.equal(tapName(99_999, 7), "vif99999.7");
  assert.throws(() => tapName(123_456_789_012, 0));
});

void test("QEMU's version line", () => {
  assert.equal(
    parseQemuVersion("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright"),
    "7.2.22",
  );
  assert.equal(parseQemuVersion("QEMU emulator version 9.1\n"), "9.1");
  assert.equal(parseQemuVersion("something else"), undefined);
});

void test("the KVM probe firmware: 64 KiB, a far jump at the reset vector, cli first", () => {
  const image = kvmProbeFirmware();
  assert.equal(image.length, 64 * 1024);
  assert.deepEqual([...image.subarray(0xfff0, 0xfff5)], [0xea, 0x00, 0x00, 0x00, 0xf0]);
  assert.equal(image[0], 0xfa, "cli");
  // out %al,$0xf4 (isa-debug-exit) is in the long-mode part.
  assert.ok(image.indexOf(Buffer.from([0xb0, 0x01, 0xe6, 0xf4])) > 0);
});
