/** The bounds of one NBD server and of each of its connections (STYLE.md habit 5). */

const MiB = 1024 * 1024;

export const nbdServerLimits = {
  requestsInFlightMaxDefault: 64,
  requestsInFlightMaxMax: 1024,
  /** Payload bytes executing per connection (READ buffers and WRITE data) before pausing. */
  inFlightBytesMax: 64 * MiB,
  /** Reply bytes queued in one socket before pausing that connection's requests. */
  writeBufferBytesMax: 64 * MiB,
  connectionsMax: 64,
  optionsPerHandshakeMax: 64,
  handshakeTimeoutMs: 30_000,
  closeTimeoutMs: 10_000,
  /** Chunk written repeatedly to serve NBD_CMD_WRITE_ZEROES. */
  zeroChunkBytes: 1 * MiB,
  /** unix(7): sun_path holds 108 bytes including the terminating NUL. */
  socketPathBytesMax: 107,
  /** Device errors logged at warn per connection; later ones go to debug. */
  ioErrorsLoggedMax: 10,
} as const;
