/* af_packet: the AoE fast path's WRITEs: ATA WRITE SECTORS (EXT) to the table's writable
 * exports (not durable, not read-only: the TypeScript path replies to those right after its
 * pwritev), written straight from the receive slot, which then becomes the reply.
 *
 * As for reads (fast-read.c), a frame is taken only when it is exactly what TypeScript
 * (src/aoe/target/aoe-export.ts) would execute as a plain write; anything else goes to
 * JavaScript untouched: a WRITE without the W bit, zero sectors, counts beyond the MTU, data
 * shorter than the count says, ranges past the end. And the order of writes
 * (src/aoe/target/write-order.ts) is kept by taking a write only while TypeScript has none of
 * the export's writes pending (queued, in flight or waiting): so there is no write in flight to
 * overlap or to be a copy of; a copy of a completed write (the WriteMemory knows it, whichever
 * path completed it) goes to JavaScript, which acknowledges it without writing (fast-path.c
 * checks that at the moment of writing, after the batch's earlier writes are remembered). */
#include <errno.h>
#include <sys/uio.h>

#include "af-packet.h"
#include "aoe-frame.h"

bool check_write(const Socket *s, const FastTable *t, FastExport *e, const uint8_t *f,
                 uint32_t len, FastIo *io) {
  if (e->memory == NULL || write_memory_pending(e->memory)) return false;
  uint8_t cmd = f[ATA_CMD_STATUS], count = f[ATA_SECTOR_COUNT];
  if (cmd != ATA_WRITE_SECTORS && cmd != ATA_WRITE_SECTORS_EXT) return false;
  if ((f[ATA_AFLAGS] & AFLAG_WRITE) == 0) return false; /* a WRITE without W: JavaScript aborts */
  if (count == 0 || count > t->sectors_max || count > s->mtu_sectors_max) return false;
  size_t bytes = (size_t)count * SECTOR_BYTES;
  /* The data the count promises is in the frame (decodeAtaRequest drops it otherwise). */
  if (len < ATA_DATA || len - ATA_DATA < bytes) return false;
  uint64_t lba = frame_lba(f, cmd == ATA_WRITE_SECTORS_EXT);
  if (lba + count > e->sectors) return false; /* IDNF from JavaScript */
  io->write = true;
  io->export = e;
  io->offset = lba * SECTOR_BYTES;
  io->bytes = (uint32_t)bytes;
  io->tag = (uint32_t)f[AOE_TAG] << 24 | (uint32_t)f[AOE_TAG + 1] << 16 |
            (uint32_t)f[AOE_TAG + 2] << 8 | f[AOE_TAG + 3];
  io->source = 0;
  for (int i = 0; i < ETH_ALEN; i++) io->source = io->source << 8 | f[ETH_ALEN + i];
  return true;
}

/* EAGAIN (the page cache would have to wait), a short write (a full disk) or an error: false,
 * and JavaScript writes the frames whole again and reports errors. Nothing newer can have
 * landed on those sectors in between: the export's later frames go to JavaScript too. */
bool write_now(FastExport *e, struct iovec *iovs, int count, uint64_t offset, uint64_t bytes) {
  ssize_t n;
  if (e->memory_backed) {
    n = pwritev(e->fd, iovs, count, (off_t)offset);
  } else {
    if (e->write_nowait_unsupported) return false;
    n = pwritev2(e->fd, iovs, count, (off_t)offset, RWF_NOWAIT);
    if (n < 0 && (errno == EOPNOTSUPP || errno == EINVAL)) e->write_nowait_unsupported = true;
  }
  e->io_calls += 1;
  return n >= 0 && (uint64_t)n == bytes;
}
