/**
 * The numbers the NBD protocol names: magics, flags, option and reply types, commands, errors,
 * and the limits we put on strings and payloads. Every number is big-endian on the wire.
 *
 * Source: NetworkBlockDevice/nbd doc/proto.md; sections are cited as proto.md §Name.
 */

// --- Magics (proto.md §Newstyle negotiation, §Request message, §Simple reply message) ---
export const NBD_MAGIC = 0x4e42444d41474943n; // ASCII "NBDMAGIC" (INIT_PASSWD)
export const NBD_IHAVEOPT = 0x49484156454f5054n; // ASCII "IHAVEOPT"
export const NBD_OPTION_REPLY_MAGIC = 0x3e889045565a9n;
export const NBD_REQUEST_MAGIC = 0x25609513;
export const NBD_SIMPLE_REPLY_MAGIC = 0x67446698;

// --- Handshake flags, 16 bits, sent by the server (proto.md §Handshake flags) ---
export const NBD_FLAG_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_NO_ZEROES = 1 << 1;

// --- Client flags, 32 bits (proto.md §Client flags); any other bit: the server must hang up ---
export const NBD_FLAG_C_FIXED_NEWSTYLE = 1 << 0;
export const NBD_FLAG_C_NO_ZEROES = 1 << 1;

// --- Transmission flags, 16 bits (proto.md §Transmission flags) ---
export const NBD_FLAG_HAS_FLAGS = 1 << 0;
export const NBD_FLAG_READ_ONLY = 1 << 1;
export const NBD_FLAG_SEND_FLUSH = 1 << 2;
export const NBD_FLAG_SEND_FUA = 1 << 3;
export const NBD_FLAG_ROTATIONAL = 1 << 4;
export const NBD_FLAG_SEND_TRIM = 1 << 5;
export const NBD_FLAG_SEND_WRITE_ZEROES = 1 << 6;
export const NBD_FLAG_SEND_DF = 1 << 7;
export const NBD_FLAG_CAN_MULTI_CONN = 1 << 8;

// --- Options (proto.md §Option types) ---
export const NBD_OPT_EXPORT_NAME = 1;
export const NBD_OPT_ABORT = 2;
export const NBD_OPT_LIST = 3;
export const NBD_OPT_STARTTLS = 5;
export const NBD_OPT_INFO = 6;
export const NBD_OPT_GO = 7;
export const NBD_OPT_STRUCTURED_REPLY = 8;
export const NBD_OPT_LIST_META_CONTEXT = 9;
export const NBD_OPT_SET_META_CONTEXT = 10;

// --- Option reply types (proto.md §Option reply types); errors have bit 31 set ---
export const NBD_REP_ACK = 1;
export const NBD_REP_SERVER = 2;
export const NBD_REP_INFO = 3;
export const NBD_REP_FLAG_ERROR = 2 ** 31;
export const NBD_REP_ERR_UNSUP = NBD_REP_FLAG_ERROR + 1;
export const NBD_REP_ERR_POLICY = NBD_REP_FLAG_ERROR + 2;
export const NBD_REP_ERR_INVALID = NBD_REP_FLAG_ERROR + 3;
export const NBD_REP_ERR_UNKNOWN = NBD_REP_FLAG_ERROR + 6;
export const NBD_REP_ERR_SHUTDOWN = NBD_REP_FLAG_ERROR + 7;

// --- Information types in NBD_REP_INFO replies (proto.md §NBD_REP_INFO) ---
export const NBD_INFO_EXPORT = 0;
export const NBD_INFO_NAME = 1;
export const NBD_INFO_DESCRIPTION = 2;
export const NBD_INFO_BLOCK_SIZE = 3;

// --- Commands (proto.md §Request types) ---
export const NBD_CMD_READ = 0;
export const NBD_CMD_WRITE = 1;
export const NBD_CMD_DISC = 2;
export const NBD_CMD_FLUSH = 3;
export const NBD_CMD_TRIM = 4;
export const NBD_CMD_CACHE = 5;
export const NBD_CMD_WRITE_ZEROES = 6;
export const NBD_CMD_BLOCK_STATUS = 7;

// --- Command flags, 16 bits (proto.md §Command flags) ---
export const NBD_CMD_FLAG_FUA = 1 << 0;
export const NBD_CMD_FLAG_NO_HOLE = 1 << 1;
export const NBD_CMD_FLAG_DF = 1 << 2;

// --- Error values in simple replies (proto.md §Error values) ---
export const NBD_EPERM = 1;
export const NBD_EIO = 5;
export const NBD_ENOMEM = 12;
export const NBD_EINVAL = 22;
export const NBD_ENOSPC = 28;
export const NBD_EOVERFLOW = 75;
export const NBD_ESHUTDOWN = 108;

// --- Limits ---
/** proto.md §Conventions: strings (export names, messages) MUST be no longer than 4096 bytes. */
export const NBD_STRING_BYTES_MAX = 4096;
/**
 * Largest option payload we accept: an NBD_OPT_GO with a maximal name and 64 info requests.
 * Larger ones are treated as a denial of service (proto.md §Termination ... during option
 * haggling allows a hard disconnect then).
 */
export const NBD_OPTION_DATA_BYTES_MAX = 4 + NBD_STRING_BYTES_MAX + 2 + 2 * 64;
/**
 * The largest READ or WRITE we serve. proto.md §Block size constraints: the maximum "SHOULD be at
 * least 2^25 (33,554,432)", and clients avoid larger requests unless told otherwise.
 */
export const NBD_PAYLOAD_BYTES_MAX = 32 * 1024 * 1024;
/** The 124 reserved zero bytes after an NBD_OPT_EXPORT_NAME reply (unless NO_ZEROES). */
export const NBD_EXPORT_NAME_ZEROES_BYTES = 124;
