/** Shared by the NBD codec tests: a typical export, request builder, and Decoded unwrappers. */
import assert from "node:assert/strict";
import * as nbd from "../protocol.js";

export const limits: nbd.ExportLimits = {
  sizeBytes: 8 * 1024 * 1024,
  readOnly: false,
  payloadBytesMax: nbd.NBD_PAYLOAD_BYTES_MAX,
  blockBytesMin: 1,
};

export function unwrap<T>(decoded: nbd.Decoded<T>): T {
  if (!decoded.ok) assert.fail(`expected success, got: ${decoded.reason}`);
  return decoded.value;
}

export function reasonOf<T>(decoded: nbd.Decoded<T>): string {
  if (decoded.ok) assert.fail(`expected a failure, got ${String(decoded.value)}`);
  return decoded.reason;
}

export function request(fields: Partial<nbd.NbdRequest>): nbd.NbdRequest {
  return { flags: 0, type: nbd.NBD_CMD_READ, handle: 1n, offset: 0n, length: 512, ...fields };
}
