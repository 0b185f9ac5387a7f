/**
 * src/api/paging.ts (read when type-checking the reply schemas that types.ts and api.ts import)
 * encodes cursors with Node's Buffer. The browser never calls those functions (they are not in
 * the bundle); this types that one use without giving the UI's code Node's globals.
 */
declare const Buffer: {
  from(value: string, encoding: "utf8" | "base64url"): { toString(encoding: string): string };
};
