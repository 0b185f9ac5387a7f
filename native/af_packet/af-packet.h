/*
 * af_packet: raw Ethernet frames for etherplane's data path, over a Linux AF_PACKET socket
 * (packet(7)). The only native code of the project; plain Node-API (node_api.h) in C.
 *
 * One socket is bound to one interface and one ethertype. Receiving is driven by a uv_poll_t on
 * the non-blocking fd: when it is readable, recvmmsg(2) reads up to `batchFrames` frames straight
 * into a freshly allocated Node Buffer, one fixed-size slot per frame, and JavaScript gets the
 * whole batch in one call. The Buffer is never reused, so frames handed to JavaScript stay valid.
 * Sending is one sendmmsg(2) over iovecs that point into the caller's Buffers (no copy). When the
 * kernel takes only part of a batch, the addon calls `onWritable` once it is worth trying again.
 *
 * The JavaScript interface is documented in init.c, next to the table that exports it.
 *
 * This header is shared by the addon's files, one concept each:
 *   errors.c     errno names, exceptions, fatal errors
 *   args.c       checking the arguments of the JavaScript functions
 *   open.c       open(): creating and binding the socket, in a network namespace if asked
 *   receive.c    the poll handle, recvmmsg batches, delivery to onFrames; startReceiving()
 *   send.c       send(): sendmmsg, waiting until writable, retrying after ENOBUFS
 *   info.c       mtu(), mac(), stats()
 *   lifecycle.c  calling JavaScript from libuv, close(), ref()/unref(), freeing a socket
 *   fast-table.c the AoE fast path's table, pushed down by the target: setFastPath()
 *   fast-path.c  the AoE fast path's batch: which frames it takes, in arrival order; replies
 *   fast-read.c  the AoE fast path: ATA READs of admitted exports answered in C
 *   fast-write.c the AoE fast path: ATA WRITEs of admitted non-durable exports, in C
 *   write-memory.c the writes of an export completed recently, shared by C and TypeScript
 *   init.c       the module's exports
 */
#ifndef ETHERPLANE_AF_PACKET_H
#define ETHERPLANE_AF_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>

#include <node_api.h>
#include <uv.h>

/* Functions shared between the addon's files are for it alone: hidden from the dynamic symbol
 * table, so that neither node nor another addon can interpose on them. */
#pragma GCC visibility push(hidden)

/* Limits (TIGER_STYLE: a bound on everything). */
enum {
  /* recvmmsg/sendmmsg take at most UIO_MAXIOV (1024) messages per call (net/socket.c). */
  BATCH_FRAMES_MAX = 1024,
  /* Receive batches per readable event, so that one busy socket cannot starve the loop. */
  BATCHES_PER_EVENT_MAX = 16,
  /* Bytes of one receive batch buffer; larger slots (jumbo MTUs) mean fewer frames per call. */
  BATCH_BYTES_MAX = 4 << 20,
  /* A receive slot holds MTU + Ethernet header (14) + one VLAN tag (4), rounded to 64 bytes;
   * the kernel lets a veth receive frames of up to that size (is_skb_forwardable(), net/core). */
  SLOT_BYTES_MIN = 1536,
  SLOT_BYTES_MAX = 65536 + 64,
  SLOT_HEADER_BYTES = ETH_HLEN + 4,
  /* Frames per sendmmsg call. */
  SEND_CHUNK_FRAMES = 256,
  /* SO_RCVBUF / SO_SNDBUF bounds (the defaults are chosen in af-packet.ts). */
  SOCKET_BUFFER_BYTES_MIN = 4096,
  SOCKET_BUFFER_BYTES_MAX = 1 << 30,
  /* ENOBUFS means a queueing discipline dropped the frame; poll(2) cannot tell when it has room
   * again, so retry after this delay. */
  ENOBUFS_RETRY_MS = 1,
  /* EINTR retries per call (MSG_DONTWAIT calls should never see EINTR). */
  EINTR_RETRIES_MAX = 8,
  /* netnsPath is a short path such as /var/run/netns/NAME (ip-netns(8)). */
  NETNS_PATH_BYTES_MAX = 192,
  /* Instructions of a classic BPF receive filter (SO_ATTACH_FILTER); the kernel's own bound is
   * BPF_MAXINSNS (4096), ours are a dozen (src/aoe/target/shard-filter.ts). */
  FILTER_INSTRUCTIONS_MAX = 64,
  ERROR_MESSAGE_BYTES = 512,
};

/* What the kernel says about each received frame, packed in one uint32 for JavaScript (the
 * `infos` array): bits 0-7 sll_pkttype (PACKET_HOST 0, PACKET_BROADCAST 1, PACKET_MULTICAST 2,
 * PACKET_OTHERHOST 3: packet(7)), bit 8 set when the frame carried an 802.1Q tag the kernel
 * stripped (TP_STATUS_VLAN_VALID in PACKET_AUXDATA), bit 9 set when the kernel handed the frame
 * to another interface stacked on ours (sll_ifindex: e.g. a VLAN interface eth0.100, which
 * untags it), bits 16-31 the tag's TCI. */
enum {
  FRAME_INFO_VLAN = 1 << 8,
  FRAME_INFO_UPPER_INTERFACE = 1 << 9,
  FRAME_INFO_TCI_SHIFT = 16,
};

typedef struct {
  uint64_t frames_received;
  uint64_t frames_sent;
  uint64_t send_errors;     /* frames the kernel refused (too long, interface down) */
  uint64_t truncated_drops; /* received frames longer than their slot */
  uint64_t receive_errors;  /* recvmmsg errors and socket errors (e.g. ENETDOWN) */
  uint64_t kernel_drops;    /* PACKET_STATISTICS tp_drops, accumulated (reading resets it) */
  int last_error;           /* errno of the latest send or receive error, 0 if none */
  uint64_t fast_send_drops; /* fast-path replies the kernel did not take (EAGAIN, ENOBUFS) */
} Counters;

/* ---- The AoE fast path (fast-table.c, fast-path.c, fast-read.c, fast-write.c) -------------
 * The AoE target (src/aoe/target/fast-path.ts) pushes down a table of the exports whose ATA
 * READs, and for exports whose TypeScript path replies without waiting for a flush (not durable,
 * not read-only) WRITEs, may be answered here, without JavaScript: the frames of a received batch
 * that match exactly (fast-read.c, fast-write.c say how) are read with preadv(2) straight into
 * their receive slot, or written with pwritev(2) straight from it (preadv2/pwritev2 RWF_NOWAIT
 * unless the file is in memory), turned into the reply in place and sent with one sendmmsg(2);
 * every other frame goes to JavaScript as before. The table is replaced whole (a pointer swap on
 * the loop thread, where frames are processed).
 *
 * Writes keep one order across the two paths (src/aoe/target/write-order.ts): an export's
 * WriteMemory (write-memory.c) holds its completed writes, recorded by both paths and consulted
 * by both; and a write is taken here only while TypeScript has none of that export's writes
 * queued, in flight or waiting (its `pending` count), so a native write never overtakes or
 * races one in TypeScript. A native write is synchronous: it has no in-flight state. */
enum {
  FAST_EXPORTS_MAX = 256,
  /* Source MACs an export admits (MAC mask list and reservation together); more: not fast. */
  FAST_ADMITTED_MAX = 16,
  /* The table's wire layout (src/aoe/target/fast-path-table.ts writes it, little-endian):
   *   0 count u32, 4 sectorsMax u32, 8 target MAC (6), 14 reserved (2), then per export:
   *   0 shelf u16, 2 slot u8, 3 flags u8, 4 fd i32, 8 sectors u64, 16 admitted count u32,
   *   20 reserved (12), 32 admitted MACs (FAST_ADMITTED_MAX x 6). */
  FAST_TABLE_HEADER_BYTES = 16,
  FAST_ENTRY_BYTES = 32 + FAST_ADMITTED_MAX * ETH_ALEN,
  FAST_FLAG_MEMORY_BACKED = 1, /* tmpfs/ramfs: I/O never waits, RWF_NOWAIT not needed */
  FAST_FLAG_ANYONE = 2,        /* no MAC mask list and no reservation */
  FAST_FLAG_WRITABLE = 4,      /* writes may be done here (the export's WriteMemory is given) */
  /* Counters per export handed back to JavaScript: frames read, bytes read, I/O calls, frames
   * written, bytes written. */
  FAST_COUNTERS_PER_EXPORT = 5,
  /* Frames of adjacent sectors merged into one preadv(2)/pwritev(2) (a sequential stream, or
   * the frames of one 4 KiB request at MTU 1500). */
  FAST_RUN_FRAMES_MAX = 64,
  /* Completed writes an export remembers: RECENT_WRITES_MAX in src/aoe/target/write-order.ts. */
  WRITE_MEMORY_ENTRIES = 1024,
  WRITE_MEMORY_BUCKETS = 2048, /* a power of two */
  /* Age at which a completion is forgotten: RECENT_WRITES_MAX_AGE_MS in write-order.ts. */
  WRITE_MEMORY_MAX_AGE_MS = 30000,
  WRITE_MEMORY_MAX_AGE_MS_LIMIT = 3600000, /* the most newWriteMemory(maxAgeMs) takes */
};

/* The completed writes of one export (write-memory.c): a ring of the last WRITE_MEMORY_ENTRIES,
 * found by tag; a JavaScript external, also held by every table that lists the export. */
typedef struct WriteMemory WriteMemory;

typedef struct {
  uint32_t key; /* shelf << 8 | slot: the table is sorted by it */
  int fd;
  uint64_t sectors;
  bool memory_backed;
  bool anyone;
  bool nowait_unsupported; /* the file system refused RWF_NOWAIT reads: leave them to JS */
  bool write_nowait_unsupported; /* the same for writes */
  /* A memory-backed export's file mapped read-only (fast-table.c), or NULL: a READ's reply then
   * takes its data from the mapping in sendmmsg(2), one copy from the page cache to the frame
   * instead of two (fast-read.c). `map_bytes` is the mapping's length, `file_bytes` the file's
   * length as fstat(2) said in batch `file_checked_batch`. */
  const uint8_t *map;
  uint64_t map_bytes;
  uint64_t file_bytes;
  uint64_t file_checked_batch;
  uint32_t admitted_count;
  uint8_t admitted[FAST_ADMITTED_MAX][ETH_ALEN];
  WriteMemory *memory; /* non-NULL: writes may be done here (FAST_FLAG_WRITABLE) */
  /* The batch in which a frame of this export went to JavaScript: its later frames of that
   * batch go there too, so that the export's frames are acted on in arrival order. */
  uint64_t deferred_batch;
  /* The batch in which an I/O of this export could not be done here: its later frames of that
   * batch go to JavaScript too. */
  uint64_t failed_batch;
  uint64_t frames;
  uint64_t bytes;
  uint64_t io_calls;
  uint64_t write_frames;
  uint64_t write_bytes;
} FastExport;

/* A READ or WRITE of the batch that passed every check, waiting to be merged with its
 * neighbours. */
typedef struct {
  uint32_t index; /* frame index in the batch */
  bool write;
  FastExport *export;
  uint64_t offset;
  uint32_t bytes;
  uint32_t tag;    /* a write's AoE tag and source MAC (48 bits), for its WriteMemory */
  uint64_t source;
} FastIo;

typedef struct {
  uint8_t mac[ETH_ALEN];
  uint32_t sectors_max; /* the target's sectors per frame at this interface's MTU */
  uint32_t count;
  uint64_t batch;
  FastIo *ios;          /* scratch for one batch: the socket's batch_frames entries */
  struct iovec *iovs;   /* scratch for one merged I/O: FAST_RUN_FRAMES_MAX entries */
  FastExport exports[];
} FastTable;

/* Per Node.js environment (the main thread, each worker thread): the sockets still open and the
 * libuv closes still pending, so that a thread ending (worker.terminate(), an uncaught
 * exception) closes its sockets and lets its loop finish those closes before the loop is
 * destroyed (an async cleanup hook: Node runs the loop until the hook is removed). */
typedef struct EnvState EnvState;

typedef struct Socket {
  napi_env env;
  EnvState *env_state;
  struct Socket *next_open; /* the environment's list of open sockets */
  struct Socket *prev_open;
  uv_loop_t *loop;
  int fd; /* -1 once closed */
  int ifindex;
  char ifname[IFNAMSIZ];
  uint8_t mac[ETH_ALEN];
  uint32_t batch_frames;
  uint32_t slot_bytes;

  /* Separately allocated libuv handles: each one is freed by its own close callback, which may
   * run after this struct is gone. */
  uv_poll_t *poll;
  uv_timer_t *retry_timer;
  bool receiving;     /* startReceiving() was called */
  bool want_writable; /* a send stopped on EAGAIN: poll for UV_WRITABLE once */
  /* open(..., reuseReceiveBuffer): the consumer keeps no frame past onFrames, so each batch
   * buffer serves the next receive too (no allocation, page faults or GC per batch). */
  bool reuse_batch;
  int poll_events;    /* events the poll handle was last started with (0: stopped) */

  /* JavaScript state. `self` keeps the handle (and so this struct) alive while the socket is
   * open, like an open net.Socket. */
  napi_ref self;
  napi_ref on_frames;
  napi_ref on_writable;
  napi_ref lengths_ref;
  uint32_t *lengths;
  uint32_t *infos; /* frame infos of the batch, in the same ArrayBuffer after the lengths */
  napi_async_context async_context;
  /* A batch buffer that recvmmsg left empty (EAGAIN), or whose frames the fast path answered
   * all, kept for the next receive. */
  napi_ref spare_ref;
  void *spare_data;
  size_t spare_bytes;

  /* Re-entrancy: JavaScript may close the socket from inside a callback, and V8 may finalize
   * the handle afterwards; the struct and its JavaScript references are released only once no
   * callback is running. */
  int busy;
  bool release_pending;
  bool finalized;

  /* Native bytes reported to V8 (napi_adjust_external_memory), so that garbage collection
   * knows what a closed socket's handle still holds. */
  int64_t native_bytes;
  struct mmsghdr *recv_msgs;
  struct iovec *recv_iovs;
  struct sockaddr_ll *recv_addrs; /* the sender's address and sll_pkttype of each frame */
  uint8_t *recv_control;          /* RECV_CONTROL_BYTES per frame: PACKET_AUXDATA */
  struct mmsghdr *send_msgs;
  struct iovec *send_iovs;
  Counters counters;
  FastTable *fast;          /* NULL: every frame goes to JavaScript */
  uint32_t mtu_sectors_max; /* sectors per frame at the MTU read by the latest receive() */
} Socket;

/* Control bytes per received frame: one PACKET_AUXDATA message. */
#define RECV_CONTROL_BYTES CMSG_SPACE(sizeof(struct tpacket_auxdata))

/* ---- Errors (errors.c) -------------------------------------------------------------------- */

const char *errno_name(int err);
void throw_errno(napi_env env, int err, const char *what);
void throw_napi_failure(napi_env env, const char *call);
void fatal(const char *message);


/* In functions called from JavaScript: on failure, throw and return NULL. */
#define NAPI_CALL(env, call)                                                                 \
  do {                                                                                       \
    if ((call) != napi_ok) {                                                                 \
      throw_napi_failure((env), #call);                                                      \
      return NULL;                                                                           \
    }                                                                                        \
  } while (0)

/* In libuv callbacks there is no caller to throw to: a failing Node-API call there is a bug or
 * an out-of-memory condition, so crash loudly with its location. */
#define NAPI_CHECK(call)                                                                     \
  do {                                                                                       \
    if ((call) != napi_ok) napi_fatal_error(__FILE__ ":" #call, NAPI_AUTO_LENGTH, NULL, 0);  \
  } while (0)

/* ---- Arguments (args.c) ------------------------------------------------------------------- */

Socket *socket_args(napi_env env, napi_callback_info info, size_t count, napi_value *argv,
                    bool must_be_open);
bool get_uint32_arg(napi_env env, napi_value value, uint32_t min, uint32_t max,
                    const char *name, uint32_t *out);
bool is_function(napi_env env, napi_value value);

/* ---- Lifecycle (lifecycle.c) -------------------------------------------------------------- */

void shutdown_io(Socket *s, bool background);
bool init_env_state(napi_env env);
void track_open_socket(Socket *s);
void delete_ref(napi_env env, napi_ref *ref);
void release_js(Socket *s);
void free_socket(Socket *s);
void enter_callback(Socket *s);
void leave_callback(Socket *s);
void finalize_socket(napi_env env, void *data, void *hint);
void call_js(Socket *s, napi_ref fn_ref, size_t argc, const napi_value *argv);

/* ---- Receiving (receive.c) ---------------------------------------------------------------- */

uint32_t slot_bytes_for_mtu(int mtu);
void update_poll(Socket *s);

/* ---- Fast path (fast-table.c, fast-path.c, fast-read.c, fast-write.c, write-memory.c) ----- */

void free_fast_table(Socket *s);
/* Answers the frames of the batch in `data` that it can; sets their lengths[] to 0. Returns
 * how many it answered. */
uint32_t fast_path_batch(Socket *s, uint8_t *data, uint32_t count, size_t slot_bytes);
/* Whether frame `f` (to export `e`, its common header checks passed) is a READ the fast path
 * may serve; fills `io` but its index. */
bool check_read(const Socket *s, const FastTable *t, FastExport *e, const uint8_t *f,
                size_t slot_bytes, FastIo *io);
bool check_write(const Socket *s, const FastTable *t, FastExport *e, const uint8_t *f,
                 uint32_t len, FastIo *io);
/* Moves `bytes` at `offset` without ever waiting for a disk; false when not all moved. */
bool read_now(FastExport *e, struct iovec *iovs, int count, uint64_t offset, uint64_t bytes);
bool mapped_readable(const FastTable *t, FastExport *e, uint64_t offset, uint64_t bytes);
bool write_now(FastExport *e, struct iovec *iovs, int count, uint64_t offset, uint64_t bytes);
/* The frame's LBA (6 bytes at ATA_LBA, least significant first), masked to 28 bits for the
 * commands without EXT. */
uint64_t frame_lba(const uint8_t *f, bool ext);

WriteMemory *write_memory_of(napi_env env, napi_value value); /* NULL: not one (no throw) */
void write_memory_hold(WriteMemory *m);
void write_memory_release(WriteMemory *m);
bool write_memory_pending(const WriteMemory *m);
bool write_memory_has(const WriteMemory *m, uint64_t source, uint32_t tag, uint64_t offset,
                      uint32_t bytes);
void write_memory_remember(WriteMemory *m, uint64_t source, uint32_t tag, uint64_t offset,
                           uint32_t bytes);

/* ---- Interface information (info.c) ------------------------------------------------------- */

int read_mtu(int fd, const char *ifname, int *mtu);

/* ---- JavaScript functions ----------------------------------------------------------------- */

napi_value js_open(napi_env env, napi_callback_info info);            /* open.c */
napi_value js_start_receiving(napi_env env, napi_callback_info info); /* receive.c */
napi_value js_send(napi_env env, napi_callback_info info);            /* send.c */
napi_value js_mtu(napi_env env, napi_callback_info info);             /* info.c */
napi_value js_mac(napi_env env, napi_callback_info info);             /* info.c */
napi_value js_stats(napi_env env, napi_callback_info info);           /* info.c */
napi_value js_ref(napi_env env, napi_callback_info info);             /* lifecycle.c */
napi_value js_unref(napi_env env, napi_callback_info info);           /* lifecycle.c */
napi_value js_close(napi_env env, napi_callback_info info);           /* lifecycle.c */
napi_value js_set_fast_path(napi_env env, napi_callback_info info);   /* fast-table.c */
napi_value js_take_fast_path_counters(napi_env env, napi_callback_info info); /* fast-table.c */
napi_value js_new_write_memory(napi_env env, napi_callback_info info);        /* write-memory.c */
napi_value js_write_memory_has(napi_env env, napi_callback_info info);        /* write-memory.c */
napi_value js_write_memory_remember(napi_env env, napi_callback_info info);   /* write-memory.c */
napi_value js_write_memory_set_pending(napi_env env, napi_callback_info info); /* write-memory.c */

#pragma GCC visibility pop

#endif /* ETHERPLANE_AF_PACKET_H */
