import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { test } from "node:test";
import { isEtherplaneError } from "../foundation/errors.js";
import { checkKnownHosts, checkPinnedKey, checkPinSyntax, fingerprint } from "./known-hosts.js";

const key = Buffer.from(
  "AAAAC3NzaC1lZDI1NTE5AAAAIGx0ZXN0a2V5dGVzdGtleXRlc3RrZXl0ZXN0a2V5",
  "base64",
);
const other = Buffer.from(
  "AAAAC3NzaC1lZDI1NTE5AAAAIG90aGVyb3RoZXJvdGhlcm90aGVyb3RoZXJvdGhl",
  "base64",
);
const line = (hosts: string, k: Buffer) => `${hosts} ssh-ed25519 ${k.toString("base64")}`;

test("known_hosts: plain, [host]:port, hashed names; a changed key is a mismatch, an absent host unknown", () => {
  assert.deepEqual(checkKnownHosts(line("srv1,10.0.0.5", key), "10.0.0.5", 22, key), { ok: true });
  assert.deepEqual(checkKnownHosts(line("[10.0.0.5]:2222", key), "10.0.0.5", 2222, key), {
    ok: true,
  });
  assert.equal(checkKnownHosts(line("10.0.0.5", key), "10.0.0.5", 2222, key).ok, false);
  const salt = randomBytes(20);
  const hash = createHmac("sha1", salt).update("srv1").digest("base64");
  assert.deepEqual(
    checkKnownHosts(line(`|1|${salt.toString("base64")}|${hash}`, key), "srv1", 22, key),
    { ok: true },
  );
  const mismatch = checkKnownHosts(line("srv1", other), "srv1", 22, key);
  assert.ok(!mismatch.ok && mismatch.reason === "mismatch" && /NOT the one/.test(mismatch.message));
  const unknown = checkKnownHosts(line("srv2", key), "srv1", 22, key);
  assert.ok(
    !unknown.ok && unknown.reason === "unknown" && unknown.message.includes(fingerprint(key)),
  );
  const revoked = checkKnownHosts(
    `@revoked * ssh-ed25519 ${key.toString("base64")}\n${line("srv1", key)}`,
    "srv1",
    22,
    key,
  );
  assert.ok(!revoked.ok && revoked.reason === "revoked");
});

test("--host-key pins a fingerprint or a key line; anything else is refused early", () => {
  assert.deepEqual(checkPinnedKey(fingerprint(key), "srv1", key), { ok: true });
  assert.deepEqual(checkPinnedKey(`ssh-ed25519 ${key.toString("base64")} root@srv1`, "srv1", key), {
    ok: true,
  });
  assert.equal(checkPinnedKey(fingerprint(other), "srv1", key).ok, false);
  checkPinSyntax(fingerprint(key));
  assert.throws(
    () => checkPinSyntax("md5:aa:bb"),
    (e) => isEtherplaneError(e, "INVALID_ARGUMENT"),
  );
});
