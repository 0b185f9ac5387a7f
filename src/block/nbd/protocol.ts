/**
 * The NBD wire format, fixed newstyle handshake and simple replies only: pure encoders and
 * decoders over Buffer, no I/O. Every number is big-endian ("network byte order"). Import this
 * module as a namespace (`import * as nbd from "./protocol.js"`); its parts are:
 * - protocol-constants.ts: magics, flags, option/reply/command types, errors, limits;
 * - handshake-codec.ts: greeting, client flags and the options a client sends;
 * - option-reply-codec.ts: the server's option replies and the NBD_OPT_EXPORT_NAME reply;
 * - transmission-codec.ts: requests and simple replies;
 * - request-check.ts: a request judged against the export (execute, error, or hang up).
 *
 * Source: the NBD protocol, NetworkBlockDevice/nbd doc/proto.md, sections "Fixed newstyle
 * negotiation", "Option types", "Option reply types", "Request message", "Simple reply message",
 * "Block size constraints" and "Error values". Section names are cited as proto.md §Name.
 *
 * Decoders take untrusted bytes and never throw: they return `{ ok: false, reason }`. Encoders
 * take the program's own values and assert them (a bad value there is our bug).
 */
export type { Decoded } from "./codec-primitives.js";
export * from "./handshake-codec.js";
export * from "./option-reply-codec.js";
export * from "./protocol-constants.js";
export * from "./request-check.js";
export * from "./transmission-codec.js";
