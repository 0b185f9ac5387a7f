import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as nbd from "./protocol.js";
import { limits, request } from "./testing/codec-test-helpers.js";

void describe("checkRequest", () => {
  const size = BigInt(limits.sizeBytes);
  const verdict = (fields: Partial<nbd.NbdRequest>, over: Partial<nbd.ExportLimits> = {}) =>
    nbd.checkRequest(request(fields), { ...limits, ...over });
  const errorOf = (v: nbd.RequestVerdict) => (v.kind === "error" ? v.error : v.kind);

  void it("executes reads and writes inside the export, up to its last byte", () => {
    assert.deepEqual(verdict({ offset: size - 512n, length: 512 }), {
      kind: "execute",
      offsetBytes: limits.sizeBytes - 512,
      lengthBytes: 512,
      payloadBytes: 0,
    });
    const write = verdict({ type: nbd.NBD_CMD_WRITE, offset: 0n, length: 4096 });
    assert.deepEqual(write, {
      kind: "execute",
      offsetBytes: 0,
      lengthBytes: 4096,
      payloadBytes: 4096,
    });
    const fua = verdict({ type: nbd.NBD_CMD_FLUSH, flags: nbd.NBD_CMD_FLAG_FUA, length: 0 });
    assert.equal(fua.kind, "execute");
  });

  void it("answers out-of-range reads with EINVAL and writes with ENOSPC, consuming the payload", () => {
    assert.equal(errorOf(verdict({ offset: size - 511n, length: 512 })), nbd.NBD_EINVAL);
    assert.equal(errorOf(verdict({ offset: 2n ** 64n - 1n, length: 512 })), nbd.NBD_EINVAL);
    const write = verdict({ type: nbd.NBD_CMD_WRITE, offset: size, length: 512 });
    assert.equal(errorOf(write), nbd.NBD_ENOSPC);
    assert.equal(write.kind === "error" && write.payloadBytes, 512);
    const zeroes = verdict({ type: nbd.NBD_CMD_WRITE_ZEROES, offset: size, length: 512 });
    assert.equal(errorOf(zeroes), nbd.NBD_ENOSPC);
    assert.equal(zeroes.kind === "error" && zeroes.payloadBytes, 0);
  });

  void it("refuses oversize reads with EINVAL and hangs up on oversize writes", () => {
    const max = nbd.NBD_PAYLOAD_BYTES_MAX;
    assert.equal(errorOf(verdict({ length: max + 1 })), nbd.NBD_EINVAL);
    assert.equal(verdict({ length: max, offset: 0n }, { sizeBytes: max }).kind, "execute");
    assert.equal(verdict({ type: nbd.NBD_CMD_WRITE, length: 0xffffffff }).kind, "close");
    // WRITE_ZEROES carries no payload: any length inside the export is fine.
    const big = { type: nbd.NBD_CMD_WRITE_ZEROES, length: max * 2 };
    assert.equal(verdict(big, { sizeBytes: max * 4 }).kind, "execute");
  });

  void it("refuses writes on a read-only export with EPERM, but serves reads", () => {
    const readOnly = { readOnly: true };
    assert.equal(errorOf(verdict({ type: nbd.NBD_CMD_WRITE }, readOnly)), nbd.NBD_EPERM);
    assert.equal(errorOf(verdict({ type: nbd.NBD_CMD_WRITE_ZEROES }, readOnly)), nbd.NBD_EPERM);
    assert.equal(verdict({}, readOnly).kind, "execute");
  });

  void it("refuses unknown commands, invalid flags and nonzero FLUSH fields with EINVAL", () => {
    for (const type of [nbd.NBD_CMD_TRIM, nbd.NBD_CMD_CACHE, nbd.NBD_CMD_BLOCK_STATUS, 0xffff]) {
      assert.equal(errorOf(verdict({ type })), nbd.NBD_EINVAL, `command ${type}`);
    }
    assert.equal(errorOf(verdict({ flags: nbd.NBD_CMD_FLAG_DF })), nbd.NBD_EINVAL);
    assert.equal(errorOf(verdict({ flags: nbd.NBD_CMD_FLAG_NO_HOLE })), nbd.NBD_EINVAL);
    const noHole = { type: nbd.NBD_CMD_WRITE_ZEROES, flags: nbd.NBD_CMD_FLAG_NO_HOLE };
    assert.equal(verdict(noHole).kind, "execute");
    assert.equal(errorOf(verdict({ type: nbd.NBD_CMD_FLUSH, length: 1 })), nbd.NBD_EINVAL);
    // DISC has no reply: even a malformed one ends the session cleanly.
    assert.equal(verdict({ type: nbd.NBD_CMD_DISC, flags: 0xffff, length: 9 }).kind, "execute");
  });

  void it("enforces the advertised minimum block size", () => {
    const aligned = { blockBytesMin: 512 };
    assert.equal(verdict({ offset: 512n, length: 1024 }, aligned).kind, "execute");
    assert.equal(errorOf(verdict({ offset: 1n, length: 512 }, aligned)), nbd.NBD_EINVAL);
    assert.equal(errorOf(verdict({ offset: 0n, length: 100 }, aligned)), nbd.NBD_EINVAL);
  });
});
