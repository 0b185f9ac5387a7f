import assert from "node:assert/strict";
import { test } from "node:test";
import { consoleEdits } from "./console.js";

const sysv = `id:2:initdefault:
1:2345:respawn:/sbin/getty 38400 tty1
2:23:respawn:/sbin/getty 38400 tty2
`;

test("sysvinit: a getty on ttyS0 made from the tty1 line; securetty gets ttyS0", () => {
  const edits = consoleEdits(
    { init: "sysvinit", inittab: sysv, securetty: "console\ntty1\n" },
    "ttyS0",
  );
  const inittab = edits.find((e) => e.path === "/etc/inittab");
  assert.ok(inittab?.kind === "write");
  assert.match(inittab.text, /\nT0:2345:respawn:\/sbin\/getty 38400 ttyS0\n$/);
  assert.ok(inittab.text.startsWith(sysv), "the source's lines stay");
  const securetty = edits.find((e) => e.path === "/etc/securetty");
  assert.ok(securetty?.kind === "write");
  assert.equal(securetty.text, "console\ntty1\nttyS0\n");
});

test("busybox inittab entries are named after their tty; hvc0 for Xen", () => {
  const edits = consoleEdits(
    {
      init: "busybox",
      inittab: "::sysinit:/etc/init.d/rcS\ntty1::respawn:/sbin/getty 38400 tty1",
      securetty: undefined,
    },
    "hvc0",
  );
  assert.equal(edits.length, 1);
  assert.ok(edits[0]?.kind === "write");
  assert.match(edits[0].text, /\nhvc0::respawn:\/sbin\/getty 38400 hvc0\n$/);
});

test("systemd: serial-getty@ is wanted by getty.target; nothing to do when a getty is there", () => {
  const edits = consoleEdits(
    { init: "systemd", inittab: undefined, securetty: undefined },
    "ttyS0",
  );
  assert.deepEqual(
    edits.map((e) => [e.kind, e.path]),
    [["symlink", "/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service"]],
  );
  assert.deepEqual(
    consoleEdits(
      {
        init: "sysvinit",
        inittab: "T0:23:respawn:/sbin/getty -L ttyS0 9600 vt100\n",
        securetty: "ttyS0\n",
      },
      "ttyS0",
    ),
    [],
  );
});
