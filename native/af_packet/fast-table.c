/* af_packet: the AoE fast path's table (af-packet.h describes the fast path and the layout).
 *
 *   setFastPath(handle, table: Buffer | null, memories: (external | null)[]) -> number[]
 *       Replaces the socket's table (null: no fast path) and returns the counters of the table
 *       it replaced, FAST_COUNTERS_PER_EXPORT numbers per export in that table's order.
 *       memories[i] is the WriteMemory (write-memory.c) of the table's export i, in table order;
 *       required for an export flagged writable, ignored for the others.
 *   takeFastPathCounters(handle) -> number[]
 *       The current table's counters, in the same form; they restart from 0.
 *
 * The table comes from our own TypeScript (src/aoe/target/fast-path-table.ts): a table that
 * does not parse is a bug there, thrown as a RangeError, and the old table stays. */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "af-packet.h"
#include "aoe-frame.h"

static uint16_t u16_at(const uint8_t *p) {
  uint16_t v;
  memcpy(&v, p, sizeof v);
  return le16toh(v);
}

static uint32_t u32_at(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return le32toh(v);
}

static uint64_t u64_at(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return le64toh(v);
}

static void free_table(FastTable *t) {
  if (t == NULL) return;
  for (uint32_t i = 0; i < t->count; i++) {
    FastExport *e = &t->exports[i];
    write_memory_release(e->memory);
    if (e->map != NULL) munmap((void *)(uintptr_t)e->map, e->map_bytes);
  }
  free(t);
}

void free_fast_table(Socket *s) {
  free_table(s->fast);
  s->fast = NULL;
}

/* Parses one export entry; returns an error message or NULL. `memory` is the export's
 * WriteMemory, NULL if none was given; the entry holds it when the export is writable. */
static const char *parse_entry(const uint8_t *p, WriteMemory *memory, FastExport *e) {
  uint16_t shelf = u16_at(p);
  uint8_t slot = p[2], flags = p[3];
  int32_t fd = (int32_t)u32_at(p + 4);
  uint32_t admitted = u32_at(p + 16);
  if (shelf == 0xffff || slot == 0xff) return "broadcast shelf or slot";
  if (fd < 0) return "negative fd";
  if (admitted > FAST_ADMITTED_MAX) return "too many admitted MACs";
  if ((flags & ~(FAST_FLAG_MEMORY_BACKED | FAST_FLAG_ANYONE | FAST_FLAG_WRITABLE)) != 0)
    return "unknown flags";
  memset(e, 0, sizeof *e);
  e->key = (uint32_t)shelf << 8 | slot;
  e->fd = fd;
  e->sectors = u64_at(p + 8);
  e->memory_backed = (flags & FAST_FLAG_MEMORY_BACKED) != 0;
  e->anyone = (flags & FAST_FLAG_ANYONE) != 0;
  e->admitted_count = admitted;
  memcpy(e->admitted, p + 32, (size_t)admitted * ETH_ALEN);
  if ((flags & FAST_FLAG_WRITABLE) != 0) {
    if (memory == NULL) return "a writable export without its write memory";
    e->memory = memory;
    write_memory_hold(memory);
  }
  /* LBA48 bounds every range: larger sizes cannot be addressed anyway. */
  if (e->sectors > (UINT64_C(1) << 48)) e->sectors = UINT64_C(1) << 48;
  /* A memory-backed file is mapped for reads (fast-read.c): its pages are in memory, so the
   * kernel's copy from the mapping in sendmmsg never waits for a disk. Not mapped: preadv. */
  if (e->memory_backed && e->sectors > 0) {
    void *map = mmap(NULL, e->sectors * SECTOR_BYTES, PROT_READ, MAP_SHARED, fd, 0);
    if (map != MAP_FAILED) {
      e->map = map;
      e->map_bytes = e->sectors * SECTOR_BYTES;
    }
  }
  return NULL;
}

/* Builds a table from its bytes; NULL with *error set when they do not parse. */
static FastTable *parse_table(const uint8_t *p, size_t bytes, uint32_t batch_frames,
                              WriteMemory *const *memories, uint32_t memories_count,
                              const char **error) {
  if (bytes < FAST_TABLE_HEADER_BYTES) return *error = "shorter than its header", NULL;
  uint32_t count = u32_at(p), sectors_max = u32_at(p + 4);
  if (count > FAST_EXPORTS_MAX) return *error = "too many exports", NULL;
  if (bytes != FAST_TABLE_HEADER_BYTES + (size_t)count * FAST_ENTRY_BYTES)
    return *error = "length does not match its export count", NULL;
  if (sectors_max > 255) return *error = "sectorsMax above 255", NULL;
  /* One allocation: the table, then the batch's scratch arrays (all bounded by the limits). */
  size_t head = sizeof(FastTable) + (size_t)count * sizeof(FastExport);
  head = (head + 15) & ~(size_t)15;
  size_t ios = (size_t)batch_frames * sizeof(FastIo);
  FastTable *t = calloc(1, head + ios + FAST_RUN_FRAMES_MAX * sizeof(struct iovec));
  if (t == NULL) return *error = "out of memory", NULL;
  t->ios = (FastIo *)((uint8_t *)t + head);
  t->iovs = (struct iovec *)((uint8_t *)t + head + ios);
  memcpy(t->mac, p + 8, ETH_ALEN);
  t->sectors_max = sectors_max;
  for (uint32_t i = 0; i < count; i++) {
    /* t->count counts the entries parsed (and holding their memory), for free_table. */
    *error = parse_entry(p + FAST_TABLE_HEADER_BYTES + (size_t)i * FAST_ENTRY_BYTES,
                         i < memories_count ? memories[i] : NULL, &t->exports[i]);
    if (*error == NULL) t->count = i + 1;
    if (*error == NULL && i > 0 && t->exports[i].key <= t->exports[i - 1].key)
      *error = "exports not sorted by shelf.slot, or repeated";
    if (*error != NULL) {
      free_table(t);
      return NULL;
    }
  }
  return t;
}

/* The table's counters as a JavaScript array; zeroes them. An empty array for no table. */
static napi_value counters_of(napi_env env, FastTable *t) {
  napi_value result;
  uint32_t count = t == NULL ? 0 : t->count;
  NAPI_CALL(env, napi_create_array_with_length(env, count * FAST_COUNTERS_PER_EXPORT, &result));
  for (uint32_t i = 0; i < count; i++) {
    FastExport *e = &t->exports[i];
    const uint64_t values[FAST_COUNTERS_PER_EXPORT] = {e->frames, e->bytes, e->io_calls,
                                                       e->write_frames, e->write_bytes};
    for (uint32_t k = 0; k < FAST_COUNTERS_PER_EXPORT; k++) {
      napi_value number;
      NAPI_CALL(env, napi_create_double(env, (double)values[k], &number));
      NAPI_CALL(env, napi_set_element(env, result, i * FAST_COUNTERS_PER_EXPORT + k, number));
    }
    e->frames = e->bytes = e->io_calls = e->write_frames = e->write_bytes = 0;
  }
  return result;
}

/* The WriteMemory externals of `list` (an array; null entries stay NULL): false with an
 * exception thrown when it is not an array of those, or longer than FAST_EXPORTS_MAX. */
static bool memories_of(napi_env env, napi_value list, WriteMemory **memories, uint32_t *count) {
  bool is_array = false;
  if (napi_is_array(env, list, &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, list, count) != napi_ok || *count > FAST_EXPORTS_MAX) {
    napi_throw_type_error(env, NULL, "af_packet: setFastPath: memories is not a short array");
    return false;
  }
  for (uint32_t i = 0; i < *count; i++) {
    napi_value item;
    napi_valuetype type;
    if (napi_get_element(env, list, i, &item) != napi_ok ||
        napi_typeof(env, item, &type) != napi_ok) {
      throw_napi_failure(env, "napi_get_element");
      return false;
    }
    memories[i] = type == napi_null ? NULL : write_memory_of(env, item);
    if (type != napi_null && memories[i] == NULL) {
      napi_throw_type_error(env, NULL, "af_packet: setFastPath: not a write memory");
      return false;
    }
  }
  return true;
}

napi_value js_set_fast_path(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  Socket *s = socket_args(env, info, 3, argv, false);
  if (s == NULL) return NULL;
  napi_valuetype type;
  NAPI_CALL(env, napi_typeof(env, argv[1], &type));
  FastTable *next = NULL;
  if (type != napi_null) {
    void *data = NULL;
    size_t bytes = 0;
    if (napi_get_buffer_info(env, argv[1], &data, &bytes) != napi_ok) {
      napi_throw_type_error(env, NULL, "af_packet: setFastPath: table is not a Buffer or null");
      return NULL;
    }
    WriteMemory *memories[FAST_EXPORTS_MAX];
    uint32_t memories_count = 0;
    if (!memories_of(env, argv[2], memories, &memories_count)) return NULL;
    const char *error = NULL;
    next = parse_table(data, bytes, s->batch_frames, memories, memories_count, &error);
    if (next == NULL) {
      char message[ERROR_MESSAGE_BYTES];
      snprintf(message, sizeof message, "af_packet: setFastPath: bad table: %s", error);
      napi_throw_range_error(env, NULL, message);
      return NULL;
    }
  }
  napi_value old = counters_of(env, s->fast);
  if (old == NULL) {
    free_table(next);
    return NULL;
  }
  /* A closed socket keeps no table: its fds may be closed and reused. */
  if (s->fd < 0) {
    free_table(next);
    next = NULL;
  }
  free_table(s->fast);
  s->fast = next;
  return old;
}

napi_value js_take_fast_path_counters(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Socket *s = socket_args(env, info, 1, argv, false);
  if (s == NULL) return NULL;
  return counters_of(env, s->fast);
}
