/* af_packet: the AoE fast path: ATA READ SECTORS (EXT) of the table's exports, answered in C.
 *
 * A frame is answered here only when everything about it is exactly what the TypeScript target
 * (src/aoe/target/aoe-target.ts, aoe-export.ts) would execute as a plain read; at the first
 * doubt it goes to JavaScript untouched, which answers, refuses or drops it and counts why. So
 * the hostile-frame rules hold unchanged: another station's frames, tagged frames, responses,
 * flags, error bytes, bad versions, masked or reserved sources, W-bit mismatches, ranges past
 * the end and counts beyond the MTU all reach the code that refuses them.
 *
 * Offsets are those of src/aoe/codec/header.ts and ata.ts (AoEr11 sections 2 and 3.1). */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "af-packet.h"

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008 /* include/uapi/linux/fs.h */
#endif

enum {
  AOE_ETHERTYPE_HI = 0x88,
  AOE_ETHERTYPE_LO = 0xa2,
  AOE_VER_FLAGS = 14,   /* version << 4 | flags */
  AOE_ERROR = 15,
  AOE_MAJOR = 16,       /* shelf, 2 bytes big-endian */
  AOE_MINOR = 18,       /* slot */
  AOE_COMMAND = 19,
  ATA_AFLAGS = 24,
  ATA_ERR_FEATURE = 25,
  ATA_SECTOR_COUNT = 26,
  ATA_CMD_STATUS = 27,
  ATA_LBA = 28,         /* 6 bytes, least significant first */
  ATA_DATA = 36,
  VERSION_1_NO_FLAGS = 0x10,
  VERSION_1_RESPONSE = 0x18,
  AFLAG_WRITE = 0x01,
  ATA_READ_SECTORS = 0x20,
  ATA_READ_SECTORS_EXT = 0x24,
  ATA_STATUS_DRDY = 0x40,
  SECTOR_BYTES = 512,
};

#define LBA28_MASK UINT64_C(0x0fffffff)

static FastExport *find_export(FastTable *t, uint32_t key) {
  uint32_t low = 0, high = t->count;
  while (low < high) {
    uint32_t mid = low + (high - low) / 2;
    if (t->exports[mid].key == key) return &t->exports[mid];
    if (t->exports[mid].key < key) low = mid + 1;
    else high = mid;
  }
  return NULL;
}

/* A unicast source MAC (group bit clear, not all zeros), as validateRequestHeader wants. */
static bool unicast(const uint8_t *mac) {
  if ((mac[0] & 1) != 0) return false;
  for (int i = 0; i < ETH_ALEN; i++)
    if (mac[i] != 0) return true;
  return false;
}

/* The MAC mask list and the reservation both let this source in (pushed down as one list). */
static bool admitted(const FastExport *e, const uint8_t *src) {
  if (e->anyone) return true;
  for (uint32_t i = 0; i < e->admitted_count; i++)
    if (memcmp(e->admitted[i], src, ETH_ALEN) == 0) return true;
  return false;
}

/* Reads `bytes` at `offset` into `iovs` without ever waiting for a disk; false when it did not
 * read all (EAGAIN: not cached; a short read; an I/O error: JavaScript reads it again, and
 * reports errors). */
static bool read_now(FastExport *e, struct iovec *iovs, int count, uint64_t offset,
                     uint64_t bytes) {
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

/* The table's export a frame to this station, untagged, is addressed to; NULL for anything
 * else. Any command counts: a frame of the export that goes to JavaScript holds back the
 * export's later frames of the batch (fast_path_batch). */
static FastExport *addressed_export(FastTable *t, const uint8_t *f, uint32_t len,
                                    uint32_t info) {
  /* info 0: PACKET_HOST, no 802.1Q tag stripped, not via a stacked interface (af-packet.h). */
  if (info != 0 || len < ATA_DATA) return NULL;
  if (memcmp(f, t->mac, ETH_ALEN) != 0) return NULL;
  if (f[12] != AOE_ETHERTYPE_HI || f[13] != AOE_ETHERTYPE_LO) return NULL;
  uint32_t shelf = (uint32_t)f[AOE_MAJOR] << 8 | f[AOE_MAJOR + 1];
  return find_export(t, shelf << 8 | f[AOE_MINOR]);
}

/* Whether frame `f` is a READ the fast path may serve; fills `read` (all but its index). A
 * frame it refuses is untouched. */
static bool check_read(Socket *s, FastTable *t, FastExport *e, const uint8_t *f,
                       size_t slot_bytes, FastRead *read) {
  /* Version 1; no response, error or reserved flag; no error byte (AoEr11 2.1). */
  if (f[AOE_VER_FLAGS] != VERSION_1_NO_FLAGS || f[AOE_ERROR] != 0) return false;
  if (f[AOE_COMMAND] != 0) return false; /* ATA */
  const uint8_t *src = f + ETH_ALEN;
  if (!unicast(src) || !admitted(e, src)) return false;
  uint8_t cmd = f[ATA_CMD_STATUS], count = f[ATA_SECTOR_COUNT];
  if (cmd != ATA_READ_SECTORS && cmd != ATA_READ_SECTORS_EXT) return false;
  if ((f[ATA_AFLAGS] & AFLAG_WRITE) != 0) return false; /* a READ with W: JavaScript aborts */
  /* Zero sectors, or more than a frame carries at either MTU reading: JavaScript decides. */
  if (count == 0 || count > t->sectors_max || count > s->mtu_sectors_max) return false;
  uint64_t lba = 0;
  for (int i = 5; i >= 0; i--) lba = lba << 8 | f[ATA_LBA + i];
  if (cmd == ATA_READ_SECTORS) lba &= LBA28_MASK;
  if (lba + count > e->sectors) return false; /* IDNF from JavaScript */
  size_t bytes = (size_t)count * SECTOR_BYTES;
  if (ATA_DATA + bytes > slot_bytes) return false;
  read->export = e;
  read->offset = lba * SECTOR_BYTES;
  read->bytes = (uint32_t)bytes;
  return true;
}

/* Turns a request whose data was read into its reply, in place: addresses swapped, the response
 * flag, the ATA arguments echoed with status DRDY and error 0 (writeAtaReplyHeader in
 * src/aoe/codec/ata.ts); shelf, slot, command and tag kept. */
static void make_reply(const FastTable *t, uint8_t *f) {
  memcpy(f, f + ETH_ALEN, ETH_ALEN);
  memcpy(f + ETH_ALEN, t->mac, ETH_ALEN);
  f[AOE_VER_FLAGS] = VERSION_1_RESPONSE;
  f[ATA_ERR_FEATURE] = 0;
  f[ATA_CMD_STATUS] = ATA_STATUS_DRDY;
}

/* Sends the replies gathered in s->send_msgs[0 .. count); what the kernel refuses is dropped
 * (counted): the initiator retransmits, and a READ is safe to answer again. */
static void send_replies(Socket *s, uint32_t count) {
  uint32_t next = 0;
  int eintr = 0;
  while (next < count) {
    int n = sendmmsg(s->fd, s->send_msgs + next, count - next, MSG_DONTWAIT);
    if (n > 0) {
      s->counters.frames_sent += (uint64_t)n;
      next += (uint32_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR && ++eintr < EINTR_RETRIES_MAX) continue;
    s->counters.fast_send_drops += count - next;
    if (n < 0) s->counters.last_error = errno;
    return;
  }
}

/* Queues the reply in frame `f` for send_replies; sends when the chunk is full. */
static void queue_reply(Socket *s, uint32_t *pending, uint8_t *f, size_t bytes) {
  s->send_iovs[*pending].iov_base = f;
  s->send_iovs[*pending].iov_len = bytes;
  memset(&s->send_msgs[*pending], 0, sizeof s->send_msgs[*pending]);
  s->send_msgs[*pending].msg_hdr.msg_iov = &s->send_iovs[*pending];
  s->send_msgs[*pending].msg_hdr.msg_iovlen = 1;
  if (++*pending == SEND_CHUNK_FRAMES) {
    send_replies(s, *pending);
    *pending = 0;
  }
}

uint32_t fast_path_batch(Socket *s, uint8_t *data, uint32_t count, size_t slot_bytes) {
  FastTable *t = s->fast;
  if (t == NULL || t->count == 0 || s->fd < 0) return 0;
  t->batch += 1;
  /* 1. Pick the READs to answer, in arrival order. */
  uint32_t reads = 0;
  for (uint32_t i = 0; i < count && i < s->batch_frames; i++) {
    uint8_t *f = data + (size_t)i * slot_bytes;
    FastExport *e = addressed_export(t, f, s->lengths[i], s->infos[i]);
    if (e == NULL) continue;
    if (e->deferred_batch == t->batch || !check_read(s, t, e, f, slot_bytes, &t->reads[reads])) {
      e->deferred_batch = t->batch;
      continue;
    }
    t->reads[reads++].index = i;
  }
  /* 2. Read runs of adjacent sectors with one preadv each; answer what was read. A run that
   * was not read whole goes to JavaScript frame by frame, untouched up to the data area (which
   * a READ request does not use). */
  uint32_t answered = 0, pending = 0;
  for (uint32_t first = 0; first < reads;) {
    const FastRead *head = &t->reads[first];
    uint64_t end = head->offset;
    uint32_t last = first;
    while (last < reads && last - first < FAST_RUN_READS_MAX &&
           t->reads[last].export == head->export && t->reads[last].offset == end) {
      t->iovs[last - first].iov_base = data + (size_t)t->reads[last].index * slot_bytes + ATA_DATA;
      t->iovs[last - first].iov_len = t->reads[last].bytes;
      end += t->reads[last].bytes;
      last++;
    }
    if (read_now(head->export, t->iovs, (int)(last - first), head->offset, end - head->offset)) {
      head->export->frames += last - first;
      head->export->bytes += end - head->offset;
      for (uint32_t k = first; k < last; k++) {
        uint32_t i = t->reads[k].index;
        uint8_t *f = data + (size_t)i * slot_bytes;
        make_reply(t, f);
        s->lengths[i] = 0;
        queue_reply(s, &pending, f, ATA_DATA + t->reads[k].bytes);
      }
      answered += last - first;
    }
    first = last;
  }
  if (pending > 0) send_replies(s, pending);
  return answered;
}
