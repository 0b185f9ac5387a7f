/* af_packet: an export's memory of its completed writes, shared by the fast path (fast-path.c)
 * and the TypeScript target (src/aoe/target/write-order.ts, through NativeWriteMemory in
 * src/net/raw-socket/af-packet.ts), so that a late copy of a write is recognised whichever path
 * completed the original: one memory, not two that could disagree.
 *
 * The same rules as RecentWrites in write-order.ts (its contract test runs both): the last
 * WRITE_MEMORY_ENTRIES completions, oldest forgotten first, and none older than the memory's
 * maximum age (WRITE_MEMORY_MAX_AGE_MS unless given; write-order.ts says why Linux's tags make
 * it necessary), on CLOCK_MONOTONIC_COARSE; looked up by tag, the newest
 * completion with that tag counts (a tag reused by another initiator replaces the older), and a
 * write is a copy when its source MAC, offset and length match that one too. Here the entries
 * are a ring, each linked into a hash chain by tag; an entry leaves its chain when it is
 * replaced by a newer one with its tag or when the ring overwrites it.
 *
 * Also `pending`: how many of the export's writes TypeScript holds (queued, in flight or
 * waiting); while it is not 0 the fast path leaves the export's writes to TypeScript.
 *
 * JavaScript interface:
 *   newWriteMemory([maxAgeMs]) -> external      (maxAgeMs: 1 to WRITE_MEMORY_MAX_AGE_MS_LIMIT)
 *   writeMemoryHas(memory, source, tag, offset, bytes) -> boolean
 *   writeMemoryRemember(memory, source, tag, offset, bytes)
 *   writeMemorySetPending(memory, count)
 * source: the source MAC as a 48-bit number; offset: bytes, below 2^53. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "af-packet.h"

enum { NIL = 0xffff };

/* Marks our externals, so that no other external is taken for one (napi_type_tag_object). */
static const napi_type_tag WRITE_MEMORY_TAG = {0x6574686572706c61, 0x6e65776d656d6f72};

typedef struct {
  uint64_t source;
  uint64_t offset;
  uint64_t at_ms; /* when it completed */
  uint32_t tag;
  uint32_t bytes;
  uint16_t prev, next; /* the hash chain; NIL at its ends */
  bool linked;
} Entry;

struct WriteMemory {
  uint32_t refs; /* the JavaScript external, and each table that lists the export */
  uint32_t pending;
  uint32_t next; /* ring slot the next completion takes */
  uint32_t max_age_ms;
  Entry entries[WRITE_MEMORY_ENTRIES];
  uint16_t chains[WRITE_MEMORY_BUCKETS];
};

_Static_assert((int)WRITE_MEMORY_ENTRIES < (int)NIL, "entry indices fit 16 bits");
_Static_assert((WRITE_MEMORY_BUCKETS & (WRITE_MEMORY_BUCKETS - 1)) == 0, "a power of two");

/* Milliseconds on the coarse monotonic clock: a jiffy's resolution, a vDSO read, no system call. */
static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint32_t bucket_of(uint32_t tag) {
  /* Fibonacci hashing: a hostile initiator choosing tags can only lengthen one chain, and a
   * chain holds at most WRITE_MEMORY_ENTRIES entries. */
  return (tag * UINT32_C(2654435761)) & (WRITE_MEMORY_BUCKETS - 1);
}

static const Entry *find(const WriteMemory *m, uint32_t tag) {
  for (uint16_t i = m->chains[bucket_of(tag)]; i != NIL; i = m->entries[i].next)
    if (m->entries[i].tag == tag) return &m->entries[i];
  return NULL;
}

static void unlink_entry(WriteMemory *m, uint16_t i) {
  Entry *e = &m->entries[i];
  if (e->prev != NIL) m->entries[e->prev].next = e->next;
  else m->chains[bucket_of(e->tag)] = e->next;
  if (e->next != NIL) m->entries[e->next].prev = e->prev;
  e->linked = false;
}

bool write_memory_has(const WriteMemory *m, uint64_t source, uint32_t tag, uint64_t offset,
                      uint32_t bytes) {
  const Entry *e = find(m, tag);
  return e != NULL && now_ms() - e->at_ms < m->max_age_ms && e->source == source &&
         e->offset == offset && e->bytes == bytes;
}

void write_memory_remember(WriteMemory *m, uint64_t source, uint32_t tag, uint64_t offset,
                           uint32_t bytes) {
  uint16_t slot = (uint16_t)m->next;
  if (m->entries[slot].linked) unlink_entry(m, slot); /* the oldest, forgotten */
  const Entry *older = find(m, tag);
  if (older != NULL) unlink_entry(m, (uint16_t)(older - m->entries)); /* replaced */
  uint32_t b = bucket_of(tag);
  Entry *e = &m->entries[slot];
  *e = (Entry){.source = source, .offset = offset, .at_ms = now_ms(), .tag = tag,
               .bytes = bytes, .prev = NIL, .next = m->chains[b], .linked = true};
  if (e->next != NIL) m->entries[e->next].prev = slot;
  m->chains[b] = slot;
  m->next = (m->next + 1) % WRITE_MEMORY_ENTRIES;
}

bool write_memory_pending(const WriteMemory *m) { return m->pending != 0; }

void write_memory_hold(WriteMemory *m) { m->refs += 1; }

void write_memory_release(WriteMemory *m) {
  if (m == NULL) return;
  if (m->refs == 0) fatal("write memory released more often than held");
  if (--m->refs == 0) free(m);
}

static void finalize_memory(napi_env env, void *data, void *hint) { write_memory_release(data); }

napi_value js_new_write_memory(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_valuetype type = napi_undefined;
  uint32_t max_age_ms = WRITE_MEMORY_MAX_AGE_MS;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc >= 1) NAPI_CALL(env, napi_typeof(env, argv[0], &type));
  if (type != napi_undefined &&
      (napi_get_value_uint32(env, argv[0], &max_age_ms) != napi_ok || max_age_ms < 1 ||
       max_age_ms > WRITE_MEMORY_MAX_AGE_MS_LIMIT)) {
    napi_throw_range_error(env, NULL, "af_packet: newWriteMemory: maxAgeMs must be 1 to 3600000");
    return NULL;
  }
  WriteMemory *m = malloc(sizeof *m);
  if (m == NULL) {
    napi_throw_error(env, NULL, "af_packet: newWriteMemory: out of memory");
    return NULL;
  }
  memset(m, 0, sizeof *m);
  m->refs = 1;
  m->max_age_ms = max_age_ms;
  for (uint32_t i = 0; i < WRITE_MEMORY_BUCKETS; i++) m->chains[i] = NIL;
  napi_value external;
  if (napi_create_external(env, m, finalize_memory, NULL, &external) != napi_ok) {
    free(m);
    throw_napi_failure(env, "napi_create_external");
    return NULL;
  }
  NAPI_CALL(env, napi_type_tag_object(env, external, &WRITE_MEMORY_TAG));
  return external;
}

WriteMemory *write_memory_of(napi_env env, napi_value value) {
  napi_valuetype type;
  void *data = NULL;
  bool ours = false;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external) return NULL;
  if (napi_check_object_type_tag(env, value, &WRITE_MEMORY_TAG, &ours) != napi_ok || !ours)
    return NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok) return NULL;
  return data;
}

/* The arguments (memory, source, tag, offset, bytes); false with an exception thrown. */
static bool write_args(napi_env env, napi_callback_info info, WriteMemory **m, uint64_t *source,
                       uint32_t *tag, uint64_t *offset, uint32_t *bytes) {
  size_t argc = 5;
  napi_value argv[5];
  int64_t src = -1, off = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5 ||
      (*m = write_memory_of(env, argv[0])) == NULL ||
      napi_get_value_int64(env, argv[1], &src) != napi_ok || src < 0 ||
      src >= INT64_C(1) << 48 || napi_get_value_uint32(env, argv[2], tag) != napi_ok ||
      napi_get_value_int64(env, argv[3], &off) != napi_ok || off < 0 ||
      napi_get_value_uint32(env, argv[4], bytes) != napi_ok) {
    napi_throw_type_error(env, NULL,
                          "af_packet: expected (writeMemory, source, tag, offset, bytes)");
    return false;
  }
  *source = (uint64_t)src;
  *offset = (uint64_t)off;
  return true;
}

napi_value js_write_memory_has(napi_env env, napi_callback_info info) {
  WriteMemory *m;
  uint64_t source, offset;
  uint32_t tag, bytes;
  if (!write_args(env, info, &m, &source, &tag, &offset, &bytes)) return NULL;
  napi_value result;
  NAPI_CALL(env, napi_get_boolean(env, write_memory_has(m, source, tag, offset, bytes), &result));
  return result;
}

napi_value js_write_memory_remember(napi_env env, napi_callback_info info) {
  WriteMemory *m;
  uint64_t source, offset;
  uint32_t tag, bytes;
  if (!write_args(env, info, &m, &source, &tag, &offset, &bytes)) return NULL;
  write_memory_remember(m, source, tag, offset, bytes);
  return NULL;
}

napi_value js_write_memory_set_pending(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  WriteMemory *m = NULL;
  uint32_t count = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2 ||
      (m = write_memory_of(env, argv[0])) == NULL ||
      napi_get_value_uint32(env, argv[1], &count) != napi_ok) {
    napi_throw_type_error(env, NULL, "af_packet: expected (writeMemory, count)");
    return NULL;
  }
  m->pending = count;
  return NULL;
}
