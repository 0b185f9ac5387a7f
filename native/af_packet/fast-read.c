/* af_packet: the AoE fast path's READs: ATA READ SECTORS (EXT) of the table's exports, read
 * straight into the receive slot that becomes the reply (fast-path.c runs the batch).
 *
 * A frame is taken here only when everything about it is exactly what the TypeScript target
 * (src/aoe/target/aoe-export.ts) would execute as a plain read; at the first doubt it goes to
 * JavaScript untouched, which answers, refuses or drops it and counts why: a READ with the W
 * bit, zero sectors, counts beyond the MTU, ranges past the end.
 *
 * A memory-backed export's reads are answered from its mapping (fast-table.c maps the file):
 * the reply's header is the receive slot, its data the mapped pages, and sendmmsg(2) copies them
 * into the frame: one copy instead of preadv's two, and no system call per run. fast-path.c
 * sends such replies before it executes any later write of the batch, so a read answers with the
 * data as it was when the read came, as with preadv. */
#include <errno.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "af-packet.h"
#include "aoe-frame.h"

uint64_t frame_lba(const uint8_t *f, bool ext) {
  uint64_t lba = 0;
  for (int i = 5; i >= 0; i--) lba = lba << 8 | f[ATA_LBA + i];
  return ext ? lba : lba & LBA28_MASK;
}

bool check_read(const Socket *s, const FastTable *t, FastExport *e, const uint8_t *f,
                size_t slot_bytes, FastIo *io) {
  uint8_t cmd = f[ATA_CMD_STATUS], count = f[ATA_SECTOR_COUNT];
  if (cmd != ATA_READ_SECTORS && cmd != ATA_READ_SECTORS_EXT) return false;
  if ((f[ATA_AFLAGS] & AFLAG_WRITE) != 0) return false; /* a READ with W: JavaScript aborts */
  /* Zero sectors, or more than a frame carries at either MTU reading: JavaScript decides. */
  if (count == 0 || count > t->sectors_max || count > s->mtu_sectors_max) return false;
  uint64_t lba = frame_lba(f, cmd == ATA_READ_SECTORS_EXT);
  if (lba + count > e->sectors) return false; /* IDNF from JavaScript */
  size_t bytes = (size_t)count * SECTOR_BYTES;
  if (ATA_DATA + bytes > slot_bytes) return false;
  io->write = false;
  io->export = e;
  io->offset = lba * SECTOR_BYTES;
  io->bytes = (uint32_t)bytes;
  return true;
}

/* A short read (a file that shrank), EAGAIN (not cached) or an I/O error: false, and
 * JavaScript reads it again and reports errors. */
bool read_now(FastExport *e, struct iovec *iovs, int count, uint64_t offset, uint64_t bytes) {
  ssize_t n;
  if (e->memory_backed) {
    /* tmpfs has no RWF_NOWAIT (EOPNOTSUPP), and nothing to wait for: its read is a copy. */
    n = preadv(e->fd, iovs, count, (off_t)offset);
  } else {
    if (e->nowait_unsupported) return false;
    n = preadv2(e->fd, iovs, count, (off_t)offset, RWF_NOWAIT);
    if (n < 0 && (errno == EOPNOTSUPP || errno == EINVAL)) e->nowait_unsupported = true;
  }
  e->io_calls += 1;
  return n >= 0 && (uint64_t)n == bytes;
}

/* Whether [offset, offset + bytes) may be answered from the export's mapping: inside it, and
 * inside the file as fstat(2) sees it once a batch. A file that shrank under its mapping would
 * make sendmmsg fail (EFAULT) for that reply; that range goes to preadv instead, which comes up
 * short, and to JavaScript. (A file that shrinks between the fstat and the send loses only that
 * reply, counted: the initiator asks again.) */
bool mapped_readable(const FastTable *t, FastExport *e, uint64_t offset, uint64_t bytes) {
  if (e->map == NULL) return false;
  if (e->file_checked_batch != t->batch) {
    struct stat st;
    e->file_bytes = fstat(e->fd, &st) == 0 && st.st_size > 0 ? (uint64_t)st.st_size : 0;
    e->file_checked_batch = t->batch;
  }
  uint64_t limit = e->file_bytes < e->map_bytes ? e->file_bytes : e->map_bytes;
  return offset <= limit && bytes <= limit - offset;
}
