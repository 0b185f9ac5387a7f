/** The xl.cfg codec: pure functions from text to settings and back, plus disk and vif specs. */
export { parseXlConfig } from "./parser.js";
export { writeXlConfig, writeXlValue, quoteXlString } from "./writer.js";
export { parseDiskSpec } from "./disk-spec.js";
export type {
  DiskSpec,
  DiskFormat,
  DiskAccess,
  DiskDevtype,
  DiskBackendType,
} from "./disk-spec.js";
export { writeDiskSpec } from "./disk-spec-writer.js";
export { parseVifSpec, writeVifSpec, VIF_KEYS } from "./vif-spec.js";
export type { VifSpec } from "./vif-spec.js";
export * from "./fields.js";
export * from "./types.js";
