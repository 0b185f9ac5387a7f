/* af_packet: the AoE fast path's batch: which frames of a received batch are answered in C
 * (fast-read.c, fast-write.c decide per command), executed in arrival order, and the replies,
 * built in place in the receive slots and sent with sendmmsg(2).
 *
 * The checks common to every command are here: a frame to this station's MAC, untagged, not
 * for another station (PACKET_HOST), AoE version 1 with no flag and no error byte, the ATA
 * command, a unicast source the export's MAC mask list and reservation admit. Anything else,
 * and anything that fails later, goes to JavaScript untouched, which answers, refuses or drops
 * it and counts why. Once a frame of an export goes to JavaScript, the export's later frames
 * of the batch follow it, so JavaScript sees them in arrival order after everything the fast
 * path did for earlier ones. */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "af-packet.h"
#include "aoe-frame.h"

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

/* The table's export a frame to this station, untagged, is addressed to; NULL for anything
 * else. Any command counts: a frame of the export that goes to JavaScript holds back the
 * export's later frames of the batch. */
static FastExport *addressed_export(FastTable *t, const uint8_t *f, uint32_t len,
                                    uint32_t info) {
  /* info 0: PACKET_HOST, no 802.1Q tag stripped, not via a stacked interface (af-packet.h). */
  if (info != 0 || len < ATA_DATA) return NULL;
  if (memcmp(f, t->mac, ETH_ALEN) != 0) return NULL;
  if (f[12] != AOE_ETHERTYPE_HI || f[13] != AOE_ETHERTYPE_LO) return NULL;
  uint32_t shelf = (uint32_t)f[AOE_MAJOR] << 8 | f[AOE_MAJOR + 1];
  return find_export(t, shelf << 8 | f[AOE_MINOR]);
}

/* Whether frame `f` of `len` bytes is a READ or WRITE the fast path may execute; fills `io`
 * (all but its index). A frame it refuses is untouched. */
static bool check_frame(const Socket *s, const FastTable *t, FastExport *e, const uint8_t *f,
                        uint32_t len, size_t slot_bytes, FastIo *io) {
  /* Version 1; no response, error or reserved flag; no error byte (AoEr11 2.1). */
  if (f[AOE_VER_FLAGS] != VERSION_1_NO_FLAGS || f[AOE_ERROR] != 0) return false;
  if (f[AOE_COMMAND] != 0) return false; /* ATA */
  const uint8_t *src = f + ETH_ALEN;
  if (!unicast(src) || !admitted(e, src)) return false;
  return check_read(s, t, e, f, slot_bytes, io) || check_write(s, t, e, f, len, io);
}

/* Turns a request that was executed into its reply, in place: addresses swapped, the response
 * flag, the ATA arguments echoed with status DRDY and error 0 (writeAtaReplyHeader in
 * src/aoe/codec/ata.ts); shelf, slot, command and tag kept. A write's reply carries no data:
 * zeros up to the Ethernet minimum, as TypeScript's. Returns the reply's length. */
static size_t make_reply(const FastTable *t, uint8_t *f, const FastIo *io) {
  memcpy(f, f + ETH_ALEN, ETH_ALEN);
  memcpy(f + ETH_ALEN, t->mac, ETH_ALEN);
  f[AOE_VER_FLAGS] = VERSION_1_RESPONSE;
  f[ATA_ERR_FEATURE] = 0;
  f[ATA_CMD_STATUS] = ATA_STATUS_DRDY;
  if (!io->write) return ATA_DATA + io->bytes;
  /* The slot holds at least ATA_DATA + one sector (check_write), more than the minimum. */
  memset(f + ATA_DATA, 0, FRAME_MIN_BYTES - ATA_DATA);
  return FRAME_MIN_BYTES;
}

/* Sends the replies gathered in s->send_msgs[0 .. count); what the kernel refuses is dropped
 * (counted): the initiator retransmits; a READ is safe to answer again, and a WRITE's copy is
 * acknowledged without writing (write-order.ts) or, with a new tag, written with its own data. */
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
    if (n < 0 && errno == EFAULT) {
      /* A mapped READ's file shrank since its fstat (fast-read.c): that reply only. */
      s->counters.fast_send_drops += 1;
      s->counters.last_error = EFAULT;
      next += 1;
      continue;
    }
    s->counters.fast_send_drops += count - next;
    if (n < 0) s->counters.last_error = errno;
    return;
  }
}

/* Queues the reply in frame `f` (`bytes` of it), followed by `data_bytes` at `data` when `data`
 * is not NULL (a mapped READ's data), for send_replies; sends when the chunk is full. */
static void queue_reply(Socket *s, uint32_t *pending, uint8_t *f, size_t bytes,
                        const uint8_t *data, size_t data_bytes) {
  struct iovec *iov = &s->send_iovs[2 * (size_t)*pending];
  iov[0] = (struct iovec){.iov_base = f, .iov_len = bytes};
  iov[1] = (struct iovec){.iov_base = (void *)(uintptr_t)data, .iov_len = data_bytes};
  memset(&s->send_msgs[*pending], 0, sizeof s->send_msgs[*pending]);
  s->send_msgs[*pending].msg_hdr.msg_iov = iov;
  s->send_msgs[*pending].msg_hdr.msg_iovlen = data != NULL ? 2 : 1;
  if (++*pending == SEND_CHUNK_FRAMES) {
    send_replies(s, *pending);
    *pending = 0;
  }
}

/* A write the export's WriteMemory has completed already (by either path, or earlier in this
 * batch): JavaScript acknowledges it without writing. */
static bool is_copy(const FastIo *io) {
  return io->write &&
         write_memory_has(io->export->memory, io->source, io->tag, io->offset, io->bytes);
}

/* Whether the batch's I/O `io` may join the run that ends at `end` after `head`: same export,
 * same direction, the next sectors, not a copy. */
static bool joins_run(const FastIo *head, const FastIo *io, uint64_t end) {
  return io->export == head->export && io->write == head->write && io->offset == end &&
         !is_copy(io);
}

uint32_t fast_path_batch(Socket *s, uint8_t *data, uint32_t count, size_t slot_bytes) {
  FastTable *t = s->fast;
  if (t == NULL || t->count == 0 || s->fd < 0) return 0;
  t->batch += 1;
  /* 1. Pick the frames to execute, in arrival order. */
  uint32_t ios = 0;
  for (uint32_t i = 0; i < count && i < s->batch_frames; i++) {
    uint8_t *f = data + (size_t)i * slot_bytes;
    uint32_t len = s->lengths[i];
    FastExport *e = addressed_export(t, f, len, s->infos[i]);
    if (e == NULL) continue;
    if (e->deferred_batch == t->batch || !check_frame(s, t, e, f, len, slot_bytes, &t->ios[ios])) {
      e->deferred_batch = t->batch;
      continue;
    }
    t->ios[ios++].index = i;
  }
  /* 2. Execute runs of adjacent sectors with one preadv/pwritev each, in arrival order; answer
   * what was done. A run that was not done whole goes to JavaScript frame by frame, untouched up
   * to the data area (a READ does not use it; a WRITE's is intact), and so do the export's
   * later frames of the batch (`failed`: the batch in which one of its runs failed). */
  uint32_t answered = 0, pending = 0;
  bool mapped_pending = false; /* a queued reply reads an export's mapping when it is sent */
  for (uint32_t first = 0; first < ios;) {
    const FastIo *head = &t->ios[first];
    FastExport *e = head->export;
    if (head->write && mapped_pending) {
      /* Earlier reads answer with the data as it was before this write (fast-read.c). */
      send_replies(s, pending);
      pending = 0;
      mapped_pending = false;
    }
    uint64_t end = head->offset;
    uint32_t last = first;
    if (e->failed_batch != t->batch && !is_copy(head)) {
      do {
        t->iovs[last - first].iov_base = data + (size_t)t->ios[last].index * slot_bytes + ATA_DATA;
        t->iovs[last - first].iov_len = t->ios[last].bytes;
        end += t->ios[last].bytes;
        last++;
      } while (last < ios && last - first < FAST_RUN_FRAMES_MAX &&
               joins_run(head, &t->ios[last], end));
    }
    int frames = (int)(last - first);
    bool mapped = frames > 0 && !head->write &&
                  mapped_readable(t, e, head->offset, end - head->offset);
    bool done = mapped ||
                (frames > 0 && (head->write ? write_now(e, t->iovs, frames, head->offset,
                                                        end - head->offset)
                                            : read_now(e, t->iovs, frames, head->offset,
                                                       end - head->offset)));
    if (!done) {
      /* The head goes to JavaScript, and every later frame of its export in this batch. */
      e->failed_batch = t->batch;
      first += 1;
      continue;
    }
    for (uint32_t k = first; k < last; k++) {
      FastIo *io = &t->ios[k];
      uint8_t *f = data + (size_t)io->index * slot_bytes;
      if (io->write) {
        write_memory_remember(e->memory, io->source, io->tag, io->offset, io->bytes);
        e->write_frames += 1;
        e->write_bytes += io->bytes;
      } else {
        e->frames += 1;
        e->bytes += io->bytes;
      }
      s->lengths[io->index] = 0;
      size_t reply_bytes = make_reply(t, f, io);
      if (mapped) {
        queue_reply(s, &pending, f, ATA_DATA, e->map + io->offset, io->bytes);
        mapped_pending = pending > 0; /* a full chunk was sent at once */
      } else {
        queue_reply(s, &pending, f, reply_bytes, NULL, 0);
      }
    }
    answered += (uint32_t)frames;
    first = last;
  }
  if (pending > 0) send_replies(s, pending);
  return answered;
}
